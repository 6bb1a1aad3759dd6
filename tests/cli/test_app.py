"""The ``costroute`` app: version, help, command registration, and a cheap import."""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Callable

import pytest
import typer
from typer.testing import CliRunner

import costroute.cli
from costroute import __version__
from costroute.cli import app


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"costroute {__version__}"


def test_help_lists_the_commands(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("route", "prices", "demo", "config", "serve"):
        assert command in result.stdout


def test_importing_the_cli_loads_neither_litellm_nor_the_client() -> None:
    code = (
        "import sys, costroute.cli\n"
        "print(sorted(m for m in ('litellm', 'openai', 'tiktoken', 'costroute._client', 'pydantic', 'starlette',"
        " 'uvicorn')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _importer(modules: dict[str, object]) -> Callable[[str], object]:
    def import_module(name: str) -> object:
        found = modules.get(name)
        if isinstance(found, BaseException):
            raise found
        if found is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return found

    return import_module


def _command_module(command: str) -> types.ModuleType:
    module = types.ModuleType(command)

    def register(app: typer.Typer) -> None:
        app.command(command)(lambda: None)

    module.register = register  # type: ignore[attr-defined]
    return module


def test_missing_optional_command_modules_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    modules: dict[str, object] = {f"costroute.cli.{n}": _command_module(n.strip("_"))
                                  for n in costroute.cli._BUILTIN}
    modules["costroute.cli._eval"] = _command_module("eval")  # _spend is missing
    monkeypatch.setattr(costroute.cli.importlib, "import_module", _importer(modules))
    fresh = typer.Typer()
    costroute.cli._register(fresh)
    names = sorted(c.name or "" for c in fresh.registered_commands)
    assert names == ["batch", "config", "demo", "eval", "prices", "route", "serve"]


def test_a_broken_optional_command_module_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    modules: dict[str, object] = {f"costroute.cli.{n}": _command_module(n.strip("_"))
                                  for n in costroute.cli._BUILTIN}
    # _spend exists, but imports something that is not installed: that must not be hidden.
    modules["costroute.cli._spend"] = ModuleNotFoundError("No module named 'redis'", name="redis")
    monkeypatch.setattr(costroute.cli.importlib, "import_module", _importer(modules))
    with pytest.raises(ModuleNotFoundError, match="redis"):
        costroute.cli._register(typer.Typer())
