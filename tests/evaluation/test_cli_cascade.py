"""`eval --strategy cascade` and `calibrate --strategy cascade` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from costroute.cli._eval import register

from .conftest import CASCADE_PRICES, cascade_rows, write_jsonl

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def said(result) -> str:
    return " ".join(result.output.split())


def test_eval_reports_held_out_tasks_the_curve_single_models_and_in_sample(app: typer.Typer,
                                                                          cascade_file: Path) -> None:
    result = runner.invoke(app, ["eval", "--strategy", "cascade", str(cascade_file), "--target", "quality=0.9",
                                 "--classifier", "heuristic"])
    assert result.exit_code == 0, result.output
    text = said(result)
    assert "tasks held out (chosen on the other tasks, scored on this one)" in text
    for task in ("quiz", "riddles", "code", "all tasks (held out)"):
        assert task in text
    assert "Cost-quality curve, tasks held out" in text
    assert "oracle (cheapest best model, hindsight)" in text
    assert "In-sample: chosen and scored on the same prompts (optimistic)" in text
    assert "quiz: " in text and "accept when" in text  # each fold's chosen cascade


def test_eval_on_one_task_says_every_figure_is_in_sample(app: typer.Typer, tmp_path: Path) -> None:
    rows = [{**r, "task": "", "source": ""} for r in cascade_rows(per_task=15)]
    data = write_jsonl(tmp_path / "one.jsonl", rows)
    result = runner.invoke(app, ["eval", "--strategy", "cascade", str(data), "--classifier", "heuristic"])
    assert result.exit_code == 0, result.output
    assert "no held-out figures; every figure below is in-sample" in said(result)


def test_eval_cascade_needs_recorded_answers_and_a_quality_goal(app: typer.Typer, outcome_file: Path,
                                                                cascade_file: Path) -> None:
    result = runner.invoke(app, ["eval", "--strategy", "cascade", str(outcome_file), "--classifier", "heuristic"])
    assert result.exit_code == 2 and "responses" in said(result)
    result = runner.invoke(app, ["eval", "--strategy", "cascade", str(cascade_file), "--target", "premium-share=0.3"])
    assert result.exit_code == 2 and "quality=FRACTION" in said(result)


def test_calibrate_writes_a_loadable_cascade_config_with_fitted_prices(app: typer.Typer, cascade_file: Path,
                                                                       tmp_path: Path) -> None:
    from costroute import Client
    from costroute.cascade import Cascade
    from costroute.policies import load_config

    out = tmp_path / "policy.yaml"
    result = runner.invoke(app, ["calibrate", "--strategy", "cascade", str(cascade_file), "--target", "quality=0.9",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "in-sample" in said(result) and "held out" in said(result)
    text = out.read_text()
    assert text.startswith("# costroute calibrate --strategy cascade answers.jsonl --target quality=0.9")
    assert "# in-sample (chosen and scored on these" in text and "# tasks held out" in text
    raw = yaml.safe_load(text)
    prices = {m["name"]: (m["price"]["input_per_mtok"], m["price"]["output_per_mtok"]) for m in raw["models"]}
    assert prices == {m: pytest.approx(p, rel=1e-6) for m, p in CASCADE_PRICES.items()}
    config = load_config(out)
    policy = config.policies["cascade"]
    assert policy.strategy == "cascade" and policy.cascade is not None
    cascade = Cascade.from_config(policy.cascade)
    assert set(cascade.models) <= set(CASCADE_PRICES) and cascade.final == "big"
    client = Client({**raw, "ledger": {"backend": "memory"}})
    assert client.route([{"role": "user", "content": "quiz question?"}]).model in CASCADE_PRICES
    # replaying the written policy is a fixed cascade: its figures are printed per task
    replayed = runner.invoke(app, ["eval", "--strategy", "cascade", str(cascade_file), "--classifier", "heuristic",
                                   "--config", str(out)])
    assert replayed.exit_code == 0, replayed.output
    assert "Policy cascade of policy.yaml replayed" in said(replayed)


def test_calibrate_with_a_price_file_that_misses_a_model_writes_nothing(app: typer.Typer, cascade_file: Path,
                                                                        tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"big": {"input_per_mtok": 10, "output_per_mtok": 30}}))
    out = tmp_path / "policy.yaml"
    result = runner.invoke(app, ["calibrate", "--strategy", "cascade", str(cascade_file), "--target", "quality=0.9",
                                 "-o", str(out), "--prices", str(prices)])
    assert result.exit_code == 2 and "no price for" in said(result) and not out.exists()


def test_calibrate_refuses_an_unreachable_goal(app: typer.Typer, tmp_path: Path) -> None:
    # the cheap models always agree on the wrong answer: every cascade accepts it
    rows = [{"prompt": f"Q{i}?\nA) x\nB) y", "scores": {"a": 0.0, "b": 0.0, "big": 1.0},
             "costs_usd": {"a": 0.001, "b": 0.001, "big": 0.1}, "responses": {"a": "A", "b": "A", "big": "B"}}
            for i in range(20)]
    data = write_jsonl(tmp_path / "hopeless.jsonl", rows)
    out = tmp_path / "policy.yaml"
    result = runner.invoke(app, ["calibrate", "--strategy", "cascade", str(data), "--target", "quality=0.5",
                                 "-o", str(out)])
    assert result.exit_code == 2 and "nothing written" in said(result) and not out.exists()


def test_calibrate_route_warns_when_the_classifier_was_trained_on_the_file(app: typer.Typer, tmp_path: Path,
                                                                           prices_file: Path) -> None:
    from .conftest import STRONG, WEAK, outcome_rows

    data = write_jsonl(tmp_path / "routellm-mmlu.jsonl", outcome_rows())  # a file the default was trained on
    out = tmp_path / "p.yaml"
    result = runner.invoke(app, ["calibrate", str(data), "--target", "quality=0.95", "-o", str(out),
                                 "--strong", STRONG, "--weak", WEAK, "--prices", str(prices_file)])
    assert result.exit_code == 0, result.output
    assert "was trained on routellm-mmlu.jsonl" in said(result) and "in-sample" in said(result)
    assert "in-sample twice over" in out.read_text()


def test_route_only_options_are_flagged_as_unused(app: typer.Typer, cascade_file: Path) -> None:
    result = runner.invoke(app, ["eval", "--strategy", "cascade", str(cascade_file), "--classifier", "heuristic",
                                 "--strong", "big", "--target", "quality=0.9"])
    assert result.exit_code == 0, result.output
    assert "--strong not used with --strategy cascade" in said(result)
