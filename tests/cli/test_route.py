"""``costroute route``: the decision explained as a table or JSON, without calling anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costroute.cli import app
from costroute.demo import DEMO_MODELS

EASY = "What is the capital of France?"
HARD = ("Prove rigorously that the harmonic series diverges, then write a Python function computing "
        "partial sums with error bounds, and analyse its complexity step by step. "
        # long, as hard requests tend to be (the default classifier is mostly prompt length)
        "My attempt groups the terms 1/3+1/4, then 1/5 to 1/8, and so on, each group at least 1/2, but I "
        "do not see how to turn that into an explicit bound on the number of terms needed to pass N, nor "
        "how floating-point rounding affects the partial sums beyond 10^7 terms. Compare naive summation, "
        "Kahan summation and summing from the smallest term up, derive the error of each, and say which "
        "the function should use and why, with a test that checks it against the asymptotic ln(n)+gamma.")


def _route(runner: CliRunner, *args: str) -> dict:
    result = runner.invoke(app, ["route", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.usefixtures("no_keys")
def test_table_names_the_chosen_model_and_explains_the_rest(runner: CliRunner) -> None:
    chosen = _route(runner, EASY)["model"]
    result = runner.invoke(app, ["route", EASY])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"→ {chosen}" in out
    assert "chosen" in out and "eligible (fallback 1)" in out
    assert "difficulty" in out and "required tier economy" in out and "chosen tier economy" in out
    assert "signals" in out
    for model in DEMO_MODELS:  # every candidate of the built-in demo pool is listed
        assert model.real in out
    assert "built-in demo" in result.output  # said on stderr, so JSON on stdout stays clean


@pytest.mark.usefixtures("no_keys")
def test_json_explains_every_candidate(runner: CliRunner) -> None:
    easy, hard = _route(runner, EASY), _route(runner, HARD)
    assert easy["label"] == "easy" and easy["tier"] == "economy" and not easy["pinned"]
    assert hard["difficulty"] > easy["difficulty"]
    assert hard["required_tier"] != "economy"
    for explained in (easy, hard):
        statuses = [c["status"] for c in explained["candidates"]]
        assert statuses[0] == "chosen" and statuses.count("chosen") == 1
        assert explained["candidates"][0]["model"] == explained["model"]
        assert explained["fallbacks"] == [c["model"] for c in explained["candidates"][1:]
                                          if c["status"].startswith("eligible")]
        assert all(c["reason"] for c in explained["candidates"] if c["status"] == "rejected")
        assert float(explained["est_cost_usd"]) > 0
    # the hard prompt needs at least the standard tier: the weakest model is rejected for quality
    weakest = next(c for c in hard["candidates"] if c["quality"] == min(x["quality"] for x in hard["candidates"]))
    assert weakest["status"] == "rejected" and "quality" in weakest["reason"]


@pytest.mark.usefixtures("no_keys")
def test_max_tokens_and_pinned_model(runner: CliRunner) -> None:
    capped = _route(runner, EASY, "--max-tokens", "20000")
    rejected = {c["model"]: c["reason"] for c in capped["candidates"] if c["status"] == "rejected"}
    assert "openai/gpt-4o-mini" in rejected and "max_tokens 20000" in rejected["openai/gpt-4o-mini"]
    pinned = _route(runner, EASY, "--model", "openai/gpt-4o")
    assert pinned["pinned"] and pinned["model"] == "openai/gpt-4o" and len(pinned["candidates"]) == 1


def test_config_file_and_policy(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "costroute.yaml"
    config.write_text(
        "models:\n"
        "  - {name: openai/gpt-4o-mini, api_key: sk-route-test-secret}\n"
        "  - {name: openai/gpt-4o, api_key: sk-route-test-secret}\n"
        "policies:\n"
        "  default: {baseline: openai/gpt-4o}\n"
        "  strict: {baseline: openai/gpt-4o, thresholds: {economy: 0.0, standard: 0.0, premium: 0.0}}\n"
    )
    explained = _route(runner, EASY, "--config", str(config), "--policy", "strict")
    assert explained["policy"] == "strict" and explained["model"] == "openai/gpt-4o"
    assert explained["config"] == str(config)
    table = runner.invoke(app, ["route", EASY, "-c", str(config)])
    assert table.exit_code == 0 and "openai/gpt-4o-mini" in table.stdout
    assert "sk-route-test-secret" not in table.output


def test_provider_keys_in_the_environment_select_the_default_config(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, no_keys: None
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-secret-do-not-print")
    result = runner.invoke(app, ["route", EASY])
    assert result.exit_code == 0, result.output
    assert "openai/gpt-4o-mini" in result.stdout and "anthropic/" not in result.stdout
    assert "sk-env-secret-do-not-print" not in result.output


@pytest.mark.usefixtures("no_keys")
def test_errors_are_one_line_messages(runner: CliRunner) -> None:
    result = runner.invoke(app, ["route", EASY, "--policy", "nope"])
    assert result.exit_code == 1
    assert "unknown policy 'nope'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("no_keys")
def test_prompt_from_stdin(runner: CliRunner) -> None:
    result = runner.invoke(app, ["route", "-", "--json"], input=HARD)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["label"] != "easy"


def test_an_error_naming_something_that_looks_like_markup_shows_it_as_written(runner: CliRunner) -> None:
    result = runner.invoke(app, ["route", EASY, "-m", "my[/x]model"])
    assert result.exit_code == 1 and "my[/x]model" in result.output
    assert "Traceback" not in result.output
