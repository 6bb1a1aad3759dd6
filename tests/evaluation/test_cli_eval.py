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


def said(result) -> str:
    """The command's output with the console's line wrapping undone."""
    return " ".join(result.output.split())


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
    assert "blend-v1" in result.output


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
    assert result.exit_code == 2
    assert "costroute[plot]" in result.output


def _calibrate(app: typer.Typer, outcome_file: Path, out: Path, *extra: str, target: str = "quality=0.95"):
    args = ["calibrate", str(outcome_file), "--target", target, "-o", str(out), "--strong", STRONG, "--weak", WEAK,
            "--classifier", "heuristic", *extra]
    return runner.invoke(app, args)


@pytest.mark.parametrize("target", ["quality=0.95", "quality=0.99", "premium-share=0.3"])
def test_calibrate_writes_a_config_that_loads_routes_and_meets_its_target(
    app: typer.Typer, outcome_file: Path, prices_file: Path, tmp_path: Path, target: str
) -> None:
    from costroute import Client
    from costroute.evaluation import load_outcomes

    out = tmp_path / "policy.yaml"
    result = _calibrate(app, outcome_file, out, "--prices", str(prices_file), target=target)
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(out.read_text())
    assert set(config) == {"models", "tiers", "policies"} and out.read_text().startswith("# costroute calibrate")
    assert all("price" in m for m in config["models"])
    client = Client({**config, "ledger": {"backend": "memory"}})
    outcomes = load_outcomes(outcome_file)
    routed = [client.route(list(o.messages)).model for o in outcomes]
    assert {STRONG, WEAK} >= set(routed) and len(set(routed)) >= 1
    quality = sum(o.scores[m] for o, m in zip(outcomes, routed, strict=True)) / len(outcomes)
    strong = sum(o.scores[STRONG] for o in outcomes) / len(outcomes)
    kind, value = target.split("=")
    if kind == "quality":  # the written config, re-scored on the same data, meets the goal
        assert quality >= float(value) * strong - 1e-12
    else:
        assert routed.count(STRONG) / len(routed) <= float(value) + 1e-12


def test_calibrate_refuses_to_write_a_config_that_cannot_route(
    app: typer.Typer, outcome_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "policy.yaml"
    result = _calibrate(app, outcome_file, out)
    assert result.exit_code == 2 and "--prices" in said(result) and not out.exists()
    bad = runner.invoke(app, ["calibrate", str(outcome_file), "--target", "x=1", "-o", str(out)])
    assert bad.exit_code == 2
    same = runner.invoke(app, ["calibrate", str(outcome_file), "--target", "quality=0.9", "-o", str(out),
                               "--strong", WEAK, "--weak", WEAK])
    assert same.exit_code == 2 and "two different models" in said(same)
    nowhere = _calibrate(app, outcome_file, tmp_path / "missing" / "p.yaml")
    assert nowhere.exit_code == 2 and "does not exist" in said(nowhere)


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


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--alpha", "0"], "--alpha"),
        (["--alpha", "-1"], "--alpha"),
        (["-o", "{tmp}/missing/m.json.gz"], "does not exist"),
        (["-o", "{tmp}"], "directory"),
    ],
)
def test_train_refuses_bad_settings_before_training(
    app: typer.Typer, outcome_file: Path, tmp_path: Path, args: list[str], words: str
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "m.json.gz")]
    result = runner.invoke(app, ["train", str(outcome_file), *args])
    assert result.exit_code == 2 and words in said(result)
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a traceback


def test_train_needs_enough_prompts(app: typer.Typer, outcome_file: Path, tmp_path: Path) -> None:
    few = tmp_path / "few.jsonl"
    few.write_text("".join(outcome_file.read_text().splitlines(keepends=True)[:3]))
    result = runner.invoke(app, ["train", str(few), "-o", str(tmp_path / "m.json.gz")])
    assert result.exit_code == 2 and "at least" in said(result) and not (tmp_path / "m.json.gz").exists()


def test_weak_set_to_the_best_model_asks_for_the_strong_one(app: typer.Typer, outcome_file: Path) -> None:
    result = runner.invoke(app, ["eval", str(outcome_file), "--weak", STRONG, "--classifier", "heuristic"])
    assert result.exit_code == 2 and "--strong" in said(result)


def test_eval_names_missing_costs_and_prices(app: typer.Typer, outcome_file: Path, tmp_path: Path) -> None:
    import json

    one = tmp_path / "one.json"
    one.write_text(json.dumps({STRONG: {"input_per_mtok": 1, "output_per_mtok": 2}}))
    result = runner.invoke(app, ["eval", str(outcome_file), "--classifier", "heuristic", "--prices", str(one)])
    assert result.exit_code == 2 and "no price for" in said(result) and WEAK in said(result)


def test_eval_warns_when_the_classifier_was_trained_on_the_file(app: typer.Typer, tmp_path: Path) -> None:
    from .conftest import outcome_rows, write_jsonl

    data = write_jsonl(tmp_path / "routellm-mmlu.jsonl", outcome_rows())  # a file the default was trained on
    result = runner.invoke(app, ["eval", str(data), "--strong", STRONG, "--weak", WEAK])
    assert result.exit_code == 0, result.output
    assert "in-sample" in said(result)
