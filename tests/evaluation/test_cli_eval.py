"""The eval / calibrate / train commands through typer's CliRunner on generated files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from costroute.cli._eval import register
from costroute.router import LearnedClassifier

from .conftest import STRONG, WEAK


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


runner = CliRunner()


def test_registers_three_commands(app: typer.Typer) -> None:
    names = {c.name for c in app.registered_commands}
    assert names == {"eval", "calibrate", "train"}


def test_eval_pair_and_prices(app: typer.Typer, outcome_file: Path, prices_file: Path) -> None:
    result = runner.invoke(
        app,
        [
            "eval",
            str(outcome_file),
            "--strong",
            STRONG,
            "--weak",
            WEAK,
            "--prices",
            str(prices_file),
            "--classifier",
            "heuristic",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "APGR" in result.output
    assert "heuristic-v1" in result.output
    assert "oracle" in result.output
    assert "difficulty policy" in result.output


def test_eval_default_classifier_auto_pair(app: typer.Typer, outcome_file: Path) -> None:
    result = runner.invoke(app, ["eval", str(outcome_file)])
    assert result.exit_code == 0, result.output
    assert "learned-v2" in result.output


def test_eval_errors(app: typer.Typer, outcome_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x"}\n', encoding="utf-8")
    result = runner.invoke(app, ["eval", str(bad)])
    assert result.exit_code == 2
    assert "bad.jsonl:1" in result.output
    result = runner.invoke(app, ["eval", str(outcome_file), "--strong", "nope"])
    assert result.exit_code == 2
    assert "nope" in result.output


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is not None, reason="has matplotlib")
def test_plot_without_matplotlib_names_the_extra(app: typer.Typer, outcome_file: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["eval", str(outcome_file), "--classifier", "heuristic", "--plot", str(tmp_path / "p.png")]
    )
    assert result.exit_code == 1
    assert "costroute[plot]" in result.output


def test_calibrate_writes_config(app: typer.Typer, outcome_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "policy.yaml"
    result = runner.invoke(
        app,
        [
            "calibrate",
            str(outcome_file),
            "--target",
            "quality=0.95",
            "-o",
            str(out),
            "--strong",
            STRONG,
            "--weak",
            WEAK,
            "--classifier",
            "heuristic",
        ],
    )
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(out.read_text())
    assert set(config) == {"models", "tiers", "policies"}
    assert 0.0 <= config["policies"]["default"]["thresholds"]["premium"] <= 1.0
    assert out.read_text().startswith("# costroute calibrate")
    bad = runner.invoke(app, ["calibrate", str(outcome_file), "--target", "x=1", "-o", str(out)])
    assert bad.exit_code == 2


def test_train_writes_loadable_weights(app: typer.Typer, outcome_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    out = tmp_path / "model.json.gz"
    result = runner.invoke(app, ["train", str(outcome_file), "-o", str(out), "--dim", "1024", "--name", "mine"])
    assert result.exit_code == 0, result.output
    assert LearnedClassifier.load(out).name == "mine"
    evaluated = runner.invoke(app, ["eval", str(outcome_file), "--classifier", str(out)])
    assert evaluated.exit_code == 0, evaluated.output
    assert "mine" in evaluated.output
    bad = runner.invoke(app, ["train", str(outcome_file), "-o", str(out), "--dim", "1000"])
    assert bad.exit_code == 2
