"""Shell completion (typer's): ``--install-completion`` is offered, and TAB completes commands and options."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from costroute.cli import app


def _complete(runner: CliRunner, words: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What bash would offer for ``words`` (the last word being completed)."""
    parts = words.split(" ")
    monkeypatch.setenv("_COSTROUTE_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(parts) - 1))
    result = runner.invoke(app, [], prog_name="costroute")
    assert result.exit_code == 0, result.output
    return result.stdout.split()


def test_help_offers_completion(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout


def test_show_completion_prints_a_bash_script(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELL", "/bin/bash")
    result = runner.invoke(app, ["--show-completion", "bash"], prog_name="costroute")
    assert result.exit_code == 0, result.output
    assert "_costroute_completion" in result.stdout and "_COSTROUTE_COMPLETE=complete_bash" in result.stdout


def test_tab_completes_commands_and_their_options(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _complete(runner, "costroute sp", monkeypatch) == ["spend"]
    assert "demo" in _complete(runner, "costroute ", monkeypatch)
    assert _complete(runner, "costroute spend --f", monkeypatch) == ["--format"]
    assert set(_complete(runner, "costroute spend --format ", monkeypatch)) == {"table", "csv", "json"}
