"""Routing metrics on tiny hand-made data, with the expected values computed by hand."""

from __future__ import annotations

from itertools import pairwise

import pytest

from costroute.evaluation import (
    CostQuality,
    CurvePoint,
    apgr,
    area_between,
    cost_at_quality,
    cost_mix_frontier,
    cpt,
    evaluate_pair,
    length_scores,
    model_ladder,
    oracle_point,
    oracle_scores,
    pair_curve,
    pareto_frontier,
    pgr,
    policy_points,
    price_prompts,
    quality_at_cost,
    quantile,
    random_scores,
    share_to_reach,
    single_model_points,
    utility_policy_points,
)

# Four prompts. Prompts 0 and 2 gain from the strong model; the router ranks them on top.
SCORES = [0.9, 0.1, 0.8, 0.2]
STRONG = [1.0, 1.0, 1.0, 0.0]
WEAK = [0.0, 1.0, 0.0, 0.0]


def test_quantile_is_linear_like_numpy() -> None:
    assert quantile([0.1, 0.2, 0.8, 0.9], 0.5) == pytest.approx(0.5)
    assert quantile([3.0], 0.7) == 3.0
    with pytest.raises(ValueError):
        quantile([], 0.5)


def test_pair_curve_by_hand() -> None:
    # Edges at the 11 quantiles of the scores: 0.1 -> all 4 prompts strong, 0.13..0.19 -> 3,
    # 0.32..0.68 -> 2, 0.81..0.87 -> 1, and the top edge (strict >) -> none.
    curve = pair_curve(SCORES, STRONG, WEAK)
    assert [(p.share, p.quality) for p in curve] == [
        (0.0, 0.25),
        (0.25, 0.5),
        (0.5, 0.75),
        (0.75, 0.75),
        (1.0, 0.75),
    ]


def test_apgr_cpt_c95_by_hand() -> None:
    report = evaluate_pair(SCORES, STRONG, WEAK)
    assert report.strong_quality == 0.75
    assert report.weak_quality == 0.25
    # PGR at shares 0, .25, .5, .75, 1 = 0, .5, 1, 1, 1; trapezoid = .0625+.1875+.25+.25
    assert report.apgr == pytest.approx(0.75)
    assert report.cpt50 == pytest.approx(0.25)  # quality 0.5 exactly at share 0.25
    # 95 % of 0.75 = 0.7125, between (0.25, 0.5) and (0.5, 0.75)
    assert report.c95 == pytest.approx(0.25 + 0.25 * (0.7125 - 0.5) / 0.25)
    assert report.cpt80 == pytest.approx(cpt(report.curve, 0.75, 0.25, 0.8))


def test_reversed_router_is_worse_than_random() -> None:
    worst = evaluate_pair([-s for s in SCORES], STRONG, WEAK)
    assert worst.apgr < 0.5 < evaluate_pair(SCORES, STRONG, WEAK).apgr


def test_pgr_and_unreachable_targets() -> None:
    assert pgr(0.5, 0.75, 0.25) == 0.5
    assert pgr(0.3, 0.3, 0.3) == 0.0
    curve = (CurvePoint(0.0, 0.2), CurvePoint(1.0, 0.4))
    assert share_to_reach(curve, 0.9) is None
    assert share_to_reach(curve, 0.1) == 0.0
    assert apgr((CurvePoint(0.5, 0.3),), 0.4, 0.2) == pytest.approx(0.5)


def test_baselines() -> None:
    n = 4000
    strong = [1.0 if i % 3 else 0.0 for i in range(n)]
    weak = [1.0 if i % 2 else 0.0 for i in range(n)]
    rnd = evaluate_pair(random_scores(n, seed=1), strong, weak)
    assert rnd.apgr == pytest.approx(0.5, abs=0.06)
    oracle = evaluate_pair(oracle_scores(strong, weak), strong, weak)
    assert oracle.apgr > 1.0  # the weak model is sometimes right where the strong one is not
    assert length_scores(["a", "abc"]) == [1.0, 3.0]
    assert random_scores(3, seed=7) == random_scores(3, seed=7)


def test_monotone_classifier_sanity() -> None:
    """Any strictly increasing transform of the scores gives the same curve."""
    base = evaluate_pair(SCORES, STRONG, WEAK)
    again = evaluate_pair([10 * s**3 + 1 for s in SCORES], STRONG, WEAK)
    assert again.apgr == pytest.approx(base.apgr)
    assert again.curve == base.curve


def test_equal_lengths_required() -> None:
    with pytest.raises(ValueError):
        pair_curve([0.1], [1.0, 0.0], [0.0])


# --- several priced models -----------------------------------------------------------------

QUALS = [
    {"cheap": 1.0, "mid": 1.0, "top": 1.0},
    {"cheap": 0.0, "mid": 1.0, "top": 1.0},
    {"cheap": 0.0, "mid": 0.0, "top": 1.0},
    {"cheap": 0.0, "mid": 0.0, "top": 0.0},
]
COSTS = [{"cheap": 1.0, "mid": 2.0, "top": 10.0, "unused": 99.0}] * 4


def test_single_models_ladder_and_hull() -> None:
    singles = single_model_points(QUALS, COSTS)
    assert set(singles) == {"cheap", "mid", "top"}
    assert singles["mid"] == CostQuality(2.0, 0.5, "mid")
    assert model_ladder(singles) == ["cheap", "mid", "top"]
    hull = cost_mix_frontier(singles)
    # mid (2, .5) lies above the segment cheap (1, .25) -> top (10, .75), so it stays
    assert [p.label for p in hull] == ["cheap", "mid", "top"]
    assert quality_at_cost(hull, 6.0) == pytest.approx(0.5 + 0.25 * 4 / 8)
    dominated = {**singles, "bad": CostQuality(5.0, 0.3, "bad")}
    assert "bad" not in model_ladder(dominated)


def test_oracle_point() -> None:
    oracle = oracle_point(QUALS, COSTS)
    # per prompt: cheap (1), mid (2), top (10), all wrong -> cheapest (1)
    assert oracle.quality == pytest.approx(0.75)
    assert oracle.cost == pytest.approx((1 + 2 + 10 + 1) / 4)


def test_policy_points_with_a_perfect_difficulty() -> None:
    difficulty = [0.0, 0.5, 0.9, 0.95]
    points = policy_points(difficulty, QUALS, COSTS, ["cheap", "mid", "top"], steps=4)
    best = cost_at_quality(points, 0.75)
    assert best is not None
    # prompt 0 -> cheap, 1 -> mid, 2 -> top, 3 -> top (thresholds cannot split 0.9 / 0.95 here
    # more cheaply than the grid allows, but both cost at most the all-top policy)
    assert best.cost < 10.0
    assert best.thresholds
    front = pareto_frontier(points)
    assert all(a.cost <= b.cost and a.quality < b.quality for a, b in pairwise(front))
    hull = cost_mix_frontier(single_model_points(QUALS, COSTS))
    assert area_between(front, hull) > 0
    single = policy_points(difficulty, QUALS, COSTS, ["mid"])
    assert single == [CostQuality(2.0, 0.5, "policy")]


def test_utility_policy_with_perfect_predictions() -> None:
    # predicting the outcomes exactly: a small penalty sends each prompt to the cheapest model
    # that is right (prompt 3, where none is, to the cheapest), a huge one everything to cheap
    points = utility_policy_points(QUALS, QUALS, COSTS, penalties=[0.0, 0.01, 100.0])
    assert points[0] == CostQuality(3.5, 0.75, "utility", {"penalty": 0.0})  # ties go to the cheapest
    assert points[1].quality == 0.75 and points[1].cost == pytest.approx((1 + 2 + 10 + 1) / 4)
    assert points[2] == CostQuality(1.0, 0.25, "utility", {"penalty": 100.0})
    assert len(utility_policy_points(QUALS, QUALS, COSTS)) == 81


def test_price_prompts() -> None:
    costs = price_prompts(["x" * 400], {"m": (1.0, 2.0)}, output_tokens=200)
    assert costs == [{"m": pytest.approx((100 * 1.0 + 200 * 2.0) / 1e6)}]
