"""The demo workload and the demo report: deterministic, varied, and summed exactly."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest

from costroute.demo import BASELINE, DEMO_KEY, KINDS, Outcome, answer_of, build_workload, demo_config, summarize
from costroute.policies import load_config
from costroute.router import HeuristicClassifier


def test_workload_is_deterministic_distinct_and_mixed() -> None:
    workload = build_workload(240)
    assert workload == build_workload(240)
    assert [w.prompt for w in build_workload(240, seed=1)] != [w.prompt for w in workload]
    assert len({repr(w.messages) for w in workload}) == 240
    kinds = Counter(w.kind for w in workload)
    assert set(kinds) == set(KINDS) and kinds["factual"] > kinds["math_proof"]
    # easy to hard, by the hand-weighted classifier (stable, unlike trained ones)
    labels = Counter(HeuristicClassifier().classify(list(w.messages)).label for w in workload)
    assert labels["easy"] > 0 and labels["medium"] > 0 and labels["hard"] > 0
    assert any(len(w.messages) > 2 for w in workload)  # multi-turn chats
    assert any("```" in w.prompt for w in workload)  # code blocks
    assert any(w.params.get("response_format") for w in workload)


@pytest.mark.parametrize("n", [0, 1, 7, 40, 1000])
def test_any_size_is_distinct_and_exact(n: int) -> None:
    workload = build_workload(n)
    assert len(workload) == n and len({repr(w.messages) for w in workload}) == n


def test_answers_scale_with_the_work_asked_for() -> None:
    by_kind = {w.kind: w.answer_words for w in build_workload(240)}
    assert by_kind["greeting"] < by_kind["summary"] < by_kind["code"] < by_kind["analysis"]
    assert len(answer_of(50).split()) == 50 and answer_of(3) == answer_of(3)


def test_demo_config_is_valid_and_points_at_the_fake() -> None:
    config = load_config(demo_config("http://127.0.0.1:9/v1"))
    assert all(m.name.startswith("openai/") and m.api_base == "http://127.0.0.1:9/v1" for m in config.models)
    assert config.policies["default"].baseline == BASELINE
    assert DEMO_KEY not in repr(config)
    real = load_config(demo_config())
    assert {m.name.split("/")[0] for m in real.models} >= {"openai", "anthropic", "gemini"}
    assert all(m.api_base is None and m.api_key is None for m in real.models)


def _outcome(model: str, tier: str, cost: str, baseline: str, ms: float, kind: str = "factual") -> Outcome:
    return Outcome(kind, model, tier, Decimal(cost), Decimal(baseline), ms)


def test_summarize_is_exact() -> None:
    report = summarize([
        _outcome("cheap", "economy", "0.001", "0.010", 10.0),
        _outcome("cheap", "economy", "0.002", "0.020", 30.0, kind="greeting"),
        _outcome("mid", "standard", "0.005", "0.010", 20.0, kind="code"),
    ], baseline_model="big", elapsed_s=1.5)
    assert report.requests == 3 and report.baseline_model == "big"
    assert report.spend_usd == Decimal("0.008") and report.baseline_usd == Decimal("0.040")
    assert report.saved_usd == Decimal("0.032")
    assert report.savings_pct == pytest.approx(80.0) and report.savings_x == pytest.approx(5.0)
    assert [(m.model, m.requests, m.cost_usd) for m in report.models] == [
        ("cheap", 2, Decimal("0.003")), ("mid", 1, Decimal("0.005"))]
    assert report.tiers == {"economy": 2, "standard": 1}
    assert report.kinds == {"code": {"mid": 1}, "factual": {"cheap": 1}, "greeting": {"cheap": 1}}
    assert report.p50_ms == 20.0
    data = json.loads(json.dumps(report.to_dict()))
    assert data["spend_usd"] == "0.008" and data["savings_pct"] == 80.0


def test_summarize_nothing() -> None:
    report = summarize([])
    assert report.requests == 0 and report.savings_pct == 0.0 and report.p50_ms == 0.0
    assert report.savings_x == float("inf") and report.to_dict()["savings_x"] is None
