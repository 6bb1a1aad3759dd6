"""Fixtures for the CLI tests: a runner, and an environment without provider keys."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from costroute._defaults import PROVIDER_MODELS


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture()
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """No provider key and no ``COSTROUTE_CONFIG``: ``route`` falls back to the demo models."""
    for var in (*PROVIDER_MODELS, "COSTROUTE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
