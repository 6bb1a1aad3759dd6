"""The synthetic mixed workload (benchmarks route it) and ``costroute route``'s built-in pool."""

from __future__ import annotations

from collections import Counter

import pytest

from costroute.demo import BASELINE, DEMO_MODELS, KINDS, build_workload, demo_config
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


def test_route_pool_is_valid_and_uses_real_names() -> None:
    config = load_config(demo_config())
    assert [m.name for m in config.models] == [m.real for m in DEMO_MODELS]
    assert {m.name.split("/")[0] for m in config.models} >= {"openai", "anthropic", "gemini"}
    assert config.policies["default"].baseline == BASELINE
    assert all(m.api_base is None and m.api_key is None for m in config.models)
