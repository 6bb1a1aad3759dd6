"""``costroute demo``: recorded outcomes through the real client, litellm and a loopback fake; the
demo's spend lands in the ledger ``costroute spend`` reads."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costroute.cli import app
from costroute.demo import DEMO_KEY, SETTINGS, load_sample


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty costroute home (the default ledger lives there) and no $COSTROUTE_CONFIG."""
    monkeypatch.setenv("COSTROUTE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COSTROUTE_CONFIG", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    return tmp_path / "home"


def _spend(runner: CliRunner, *args: str) -> list[dict[str, str]]:
    result = runner.invoke(app, ["spend", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.usefixtures("home")
def test_json_report_matches_what_costroute_spend_shows_right_after(runner: CliRunner, home: Path) -> None:
    result = runner.invoke(app, ["demo", "--prompts", "12", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    sample = load_sample()
    assert report["questions"] == 12 and report["baseline"] == sample.baseline
    assert report["ledger"] == str(home / "ledger.sqlite3")
    assert report["spend_command"] == "costroute spend --by policy --by tag:source"
    assert [s["setting"] for s in report["settings"]] == [s.name for s in SETTINGS]
    assert "lm-sys/RouteLLM" in report["source"] and "Apache-2.0" in report["source"]
    rows = {r["policy"]: r for r in _spend(runner, "--by", "policy", "--by", "tag:source")}
    for s in report["settings"]:
        assert rows[s["setting"]]["tag:source"] == "demo" and rows[s["setting"]]["requests"] == 12
        assert Decimal(rows[s["setting"]]["cost_usd"]) == Decimal(s["spend_usd"]) > 0
        assert Decimal(rows[s["setting"]]["saved_usd"]) == Decimal(s["saved_usd"])
        assert sum(s["routed"].values()) == 12
        assert s["quality_kept_pct"] > 0 and 0 <= s["savings_pct"] < 100
    # a cheaper setting never sends more to the premium model than a safer one
    premium = [s["routed"].get(sample.baseline, 0) for s in report["settings"]]
    assert premium == sorted(premium)
    assert DEMO_KEY not in result.output and "sk-" not in result.output


@pytest.mark.usefixtures("home")
def test_table_shows_quality_kept_next_to_money_saved(runner: CliRunner) -> None:
    result = runner.invoke(app, ["demo", "-n", "8"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("quality", "kept", "random", "saved", "Mixtral alone", "GPT-4 Turbo", "cheaper", "default",
                 "safer", "lm-sys/RouteLLM", "Apache-2.0", "costroute spend --by policy --by tag:source"):
        assert text in out, text
    assert "24 requests" in out and "source=demo" in out
    assert "in-sample" not in out  # the shipped classifier was trained without the demo's questions
    assert "recorded answer" in result.output and "no keys, no network" in result.output  # on stderr
    assert DEMO_KEY not in result.output


def test_ledger_option_and_the_spend_command_it_prints(runner: CliRunner, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTROUTE_HOME", str(tmp_path / "home"))
    path = tmp_path / "demo.sqlite3"
    result = runner.invoke(app, ["demo", "-n", "3", "--json", "--ledger", str(path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["spend_command"] == f"costroute spend --by policy --by tag:source --ledger {path}"
    assert sum(r["requests"] for r in _spend(runner, "--ledger", str(path))) == 9
    assert not (tmp_path / "home" / "ledger.sqlite3").exists()


def test_too_many_questions_replays_the_whole_sample_once(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite3"
    result = runner.invoke(app, ["demo", "-n", "100000", "--json", "--ledger", str(path), "--classifier", "heuristic"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["questions"] == len(load_sample().rows)
    assert report["classifier"] == "heuristic-v1" and report["in_sample"] is None
