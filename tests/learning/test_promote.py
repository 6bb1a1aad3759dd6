"""Training on labelled traffic from a real SQLite ledger, the champion/challenger gate, the
classifiers directory, `costroute train --from-ledger`, `costroute routing report`, and a policy
using the promoted classifier with `classifier: own`."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costroute import CostrouteError
from costroute.cli import app
from costroute.learning import labels_from_feedback, traffic_outcomes
from costroute.learning._promote import run_gate
from costroute.learning._store import active_record, classifiers_dir, load_active, read_history, record_run
from costroute.router import default_classifier, load_classifier
from costroute.spend import SQLiteLedger

from .conftest import STRONG, WEAK, write_traffic

pytest.importorskip("sklearn")
runner = CliRunner()


def _rows(path: Path) -> list[dict]:
    ledger = SQLiteLedger(path)
    try:
        return traffic_outcomes(ledger.records(), labels_from_feedback(ledger.feedback())).rows
    finally:
        ledger.close()


def test_a_challenger_that_learned_the_traffic_beats_the_default(traffic_ledger: Path) -> None:
    rows = _rows(traffic_ledger)
    assert len(rows) == 160 and all(set(r["scores"]) == {STRONG, WEAK} for r in rows)
    result = run_gate(rows, default_classifier())
    assert (result.strong, result.weak) == (STRONG, WEAK)
    assert result.promoted and result.challenger_apgr > 0.7  # the words tell hard from easy
    assert result.champion == "blend-v1" and result.champion_apgr < 0.6  # equal lengths: little to go on
    assert result.payload["metadata"]["trained_on"] == sorted(r["id"] for r in rows)


def test_the_gate_keeps_a_champion_the_challenger_does_not_beat(traffic_ledger: Path, tmp_path: Path) -> None:
    rows = _rows(traffic_ledger)
    first = run_gate(rows, default_classifier())
    directory = tmp_path / "classifiers"
    run = record_run(directory, first, labels=320, by_source={"app": 320})
    champion = load_active(directory)
    assert champion is not None and run.weights is not None
    trained_on = set(champion.metadata["trained_on"])  # type: ignore[attr-defined]
    again = run_gate(rows, champion, champion_trained_on=trained_on)
    assert not again.promoted and "kept" in again.reason
    assert again.champion_scored_on == len(rows)  # nothing new: scored in-sample, which favours it
    record_run(directory, again, labels=320, by_source={"app": 320})
    history = read_history(directory)
    assert [h["promoted"] for h in history] == [True, False]
    assert active_record(directory)["weights"] == run.weights.name  # type: ignore[index]


def test_weights_are_private_files(traffic_ledger: Path, tmp_path: Path) -> None:
    run = record_run(tmp_path / "c", run_gate(_rows(traffic_ledger), default_classifier()), labels=1, by_source={})
    assert run.weights is not None
    assert stat.S_IMODE(run.weights.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "c").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "c" / "active.json").stat().st_mode) == 0o600


def test_traffic_without_two_labelled_models_cannot_train(tmp_path: Path) -> None:
    rows = [{"id": f"p{i}", "prompt": f"q {i}", "scores": {WEAK: 1.0}} for i in range(80)]
    with pytest.raises(CostrouteError, match="two models"):
        run_gate(rows, default_classifier())
    few = _rows(write_traffic(tmp_path / "few.sqlite3", prompts=20))
    with pytest.raises(CostrouteError, match="at least 50"):
        run_gate(few, default_classifier())


def test_cli_trains_from_the_ledger_reports_and_a_policy_uses_it(
    traffic_ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("COSTROUTE_HOME", str(home))
    before = runner.invoke(app, ["routing", "report"])
    assert before.exit_code == 0 and "default classifier" in before.output
    assert load_classifier("own") is default_classifier()
    result = runner.invoke(app, ["train", "--from-ledger", "--ledger", str(traffic_ledger)])
    assert result.exit_code == 0, result.output
    assert "promoted" in result.output and "320 labels" in result.output
    report = runner.invoke(app, ["routing", "report"])
    assert report.exit_code == 0, report.output
    assert "320 labels" in report.output and "app 320" in report.output and "yes" in report.output
    own = load_classifier("own")
    assert own.name == "traffic"
    record = json.loads((classifiers_dir() / "active.json").read_text())
    assert record["labels"] == 320 and record["promoted"]
    # a policy routes with it
    from costroute import Client

    config = {
        "models": [
            {"name": WEAK, "quality": 0.5, "price": {"input_per_mtok": 0.1, "output_per_mtok": 0.4}},
            {"name": STRONG, "quality": 0.9, "price": {"input_per_mtok": 5, "output_per_mtok": 15}},
        ],
        "tiers": {"economy": 0.0, "premium": 0.9},
        "policies": {"default": {"classifier": "own", "thresholds": {"economy": 0.0, "premium": 0.5}}},
        "ledger": {"backend": "memory"},
    }
    client = Client(config)
    hard = client.route([{"role": "user", "content": "Derive the eigenvalue bound for matrix family 7 and prove it"}])
    easy = client.route([{"role": "user", "content": "Tell me the opening hours listed for the library branch 7"}])
    assert (hard.model, easy.model) == (STRONG, WEAK)


def test_cli_refusals(traffic_ledger: Path, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["train", "--from-ledger", "--ledger", str(tmp_path / "nope.sqlite3")])
    assert missing.exit_code == 2 and "no ledger" in missing.output
    both = runner.invoke(app, ["train", "x.jsonl", "--from-ledger", "--ledger", str(traffic_ledger)])
    assert both.exit_code == 2 and "--from-ledger" in both.output
    neither = runner.invoke(app, ["train"])
    assert neither.exit_code == 2 and "--from-ledger" in neither.output
