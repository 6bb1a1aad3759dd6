"""Shared fixtures. Real services (Redis, PostgreSQL) come from ``tests/services.py``."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.services"]


@pytest.fixture(autouse=True)
def _close_litellm_default_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """litellm's sync path creates the main thread's default event loop (``get_event_loop()`` in
    its service logger) and never closes it; close it after each sync test so it is not reported
    as a leaked resource of whichever test the garbage collector happens to run in."""
    yield
    if inspect.iscoroutinefunction(getattr(request, "function", None)):
        return
    policy = asyncio.get_event_loop_policy()
    local = getattr(policy, "_local", None)
    loop = getattr(local, "_loop", None)
    if loop is not None and not loop.is_running() and not loop.is_closed():
        loop.close()
        policy.set_event_loop(None)
