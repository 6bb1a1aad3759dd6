"""Shared fixtures. Real services (Redis, PostgreSQL) come from ``tests/services.py``."""

from __future__ import annotations

pytest_plugins = ["tests.services"]
