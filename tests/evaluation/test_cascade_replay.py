"""Replaying recorded answers through cascades: the real state machine, and the fast evaluation
the search uses, which must agree with it on every prompt."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costroute import ConfigError
from costroute.cascade import AgreementVerifier, Cascade, JudgeVerifier, Step
from costroute.evaluation import parse_outcome
from costroute.evaluation._cascade import CascadeCandidate, _Scorer
from costroute.evaluation._cascade_replay import FastCascade, ReplayTable, check_fast, replay_cascade
from costroute.evaluation._prices import infer_prices
from costroute.evaluation._rowsets import RowSums, at_least

from .conftest import CASCADE_PRICES, cascade_rows

ROWS = cascade_rows(per_task=25)
OUTCOMES = [parse_outcome(r, f"rows:{i}") for i, r in enumerate(ROWS)]
DIFFICULTY = [random.Random(i).random() for i in range(len(OUTCOMES))]
TABLE = ReplayTable(OUTCOMES, DIFFICULTY)
MODELS = sorted(CASCADE_PRICES)


def test_a_table_needs_recorded_answers_and_costs() -> None:
    bare = [parse_outcome({"prompt": "Q", "scores": {"a": 1.0, "b": 0.0}, "costs_usd": {"a": 1, "b": 1}}, "x")]
    with pytest.raises(ConfigError, match="responses"):
        ReplayTable(bare)
    with pytest.raises(ValueError):
        ReplayTable(OUTCOMES, DIFFICULTY[:3])


def test_replay_books_each_call_and_scores_the_model_that_answered() -> None:
    row = {"prompt": "Q?\nA) x\nB) y", "scores": {"s": 1.0, "v": 1.0, "f": 0.0},
           "costs_usd": {"s": 0.1, "v": 0.2, "f": 3.0}, "responses": {"s": "B", "v": "(B)", "f": "A"}}
    disagree = {**row, "responses": {"s": "B", "v": "A", "f": "A"}}
    table = ReplayTable([parse_outcome(row, "1"), parse_outcome(disagree, "2")])
    out = replay_cascade(Cascade(["s"], "f", [AgreementVerifier(("v",))]), table)
    assert out.accepted_by == {"agreement": 1, "final": 1} and out.answered_by == {"s": 1, "f": 1}
    assert out.row_quality == (1.0, 0.0)
    assert out.row_cost == pytest.approx((0.3, 3.3))
    assert (out.quality, out.cost) == (pytest.approx(0.5), pytest.approx(1.8))


def test_a_judge_cannot_be_replayed_it_abstains() -> None:
    cascade = Cascade(["cheap-a"], "big", [JudgeVerifier("mid", 0.5)])
    out = replay_cascade(cascade, TABLE)
    assert out.accepted_by == {"final": len(TABLE)}


def test_a_cascade_naming_unknown_models_is_refused() -> None:
    with pytest.raises(ConfigError, match="nobody"):
        replay_cascade(Cascade(["nobody"], "big", [AgreementVerifier(("mid",))]), TABLE)


@st.composite
def candidates(draw: st.DrawFn) -> CascadeCandidate:
    pool = draw(st.permutations(MODELS))
    n = draw(st.integers(1, 2))
    with_ = tuple(draw(st.lists(st.sampled_from(pool[:-1]), min_size=1, max_size=3, unique=True)))
    levels = st.none() | st.sampled_from([0.2, 0.5, 0.8])
    return CascadeCandidate(tuple(pool[:n]), pool[-1], with_, draw(st.integers(1, len(with_))),
                            draw(st.sampled_from([1.0, 0.6, 0.3])), draw(levels), draw(levels) if n > 1 else None)


@settings(max_examples=60, deadline=None)
@given(candidates())
def test_the_fast_evaluation_agrees_with_the_state_machine_on_every_prompt(candidate: CascadeCandidate) -> None:
    rows = list(range(len(TABLE)))
    exact = check_fast(TABLE, candidate.fast(TABLE), candidate.cascade(), rows)  # raises on any difference
    assert exact.n == len(rows)


@settings(max_examples=60, deadline=None)
@given(candidates(), st.lists(st.sampled_from([0.3, 0.6]), max_size=2, unique=True))
def test_row_set_scoring_agrees_with_the_fast_evaluation(candidate: CascadeCandidate, cuts: list[float]) -> None:
    rows = list(range(len(TABLE)))
    groups = [[r for r in rows if OUTCOMES[r].task == t] for t in ("quiz", "riddles", "code")]
    fast = candidate.fast(TABLE)
    scorer = _Scorer(TABLE, rows, fast.final, sorted(cuts), groups)
    q, c = scorer.prefixes(fast)
    quality, cost = TABLE.fast(fast, scorer.rows)
    for g, members in enumerate(groups):
        inside = set(members)
        for point in scorer.points:
            below = [i for i, r in enumerate(scorer.rows[:point]) if r in inside]
            assert q[g][point] == pytest.approx(sum(quality[i] for i in below), abs=1e-9)
            assert c[g][point] == pytest.approx(sum(cost[i] for i in below), abs=1e-12)


def test_code_answers_agree_by_program_not_by_text() -> None:
    rows = [r for r in range(len(TABLE)) if OUTCOMES[r].task == "code"]
    assert TABLE.stable_kind(rows[0]) == "code"
    strict = FastCascade((TABLE.index["cheap-b"],), TABLE.index["big"], (TABLE.index["mid"],), 1,
                         {"choice": 1.0, "number": 1.0, "code": 1.0, "text": 0.8})
    _, cost = TABLE.fast(strict, rows)
    same_program = [i for i, r in enumerate(rows) if OUTCOMES[r].scores["cheap-b"] == OUTCOMES[r].scores["mid"] == 1.0
                    and OUTCOMES[r].responses["cheap-b"] != OUTCOMES[r].responses["mid"]]
    assert same_program  # right answers written with other names
    for i in same_program:  # accepted: the big model was never asked
        r = rows[i]
        assert cost[i] == pytest.approx(OUTCOMES[r].costs_usd["cheap-b"] + OUTCOMES[r].costs_usd["mid"])


@given(st.lists(st.floats(0, 10), min_size=1, max_size=40), st.data())
def test_row_sums(values: list[float], data: st.DataObject) -> None:
    rows = data.draw(st.integers(0, 2 ** len(values) - 1))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(values)), max_size=4)))
    got = RowSums(values).cumulative(rows, cuts)
    want = [sum(v for i, v in enumerate(values) if i < cut and rows >> i & 1) for cut in cuts]
    assert got == pytest.approx(want)


@given(st.lists(st.integers(0, 255), max_size=5), st.integers(0, 6))
def test_at_least(sets: list[int], k: int) -> None:
    got = at_least(sets, k, 255)
    want = sum(1 << i for i in range(8) if sum(s >> i & 1 for s in sets) >= k) if k > 0 else 255
    assert got == want


def test_prices_are_read_back_from_recorded_costs() -> None:
    from costroute.router._tokens import default_counter

    prices = infer_prices(OUTCOMES, MODELS, default_counter("cl100k_base").count)
    assert prices == {m: pytest.approx(p, rel=1e-6) for m, p in CASCADE_PRICES.items()}
    per_request = [parse_outcome({**r, "costs_usd": {m: 0.01 for m in MODELS}}, "x") for r in ROWS]
    with pytest.raises(ConfigError, match="--prices"):
        infer_prices(per_request, MODELS, default_counter("cl100k_base").count)


def test_step_skipping_in_a_replay_follows_the_difficulty() -> None:
    cascade = Cascade([Step("cheap-a", skip_above=0.5), "mid"], "big", [AgreementVerifier(("cheap-b",))])
    out = replay_cascade(cascade, TABLE)
    first = [r for r in range(len(TABLE)) if DIFFICULTY[r] < 0.5]
    assert out.n == len(TABLE) and out.answered_by.get("cheap-a", 0) <= len(first)
    assert Decimal(str(out.cost)) > 0
