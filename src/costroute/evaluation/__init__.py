"""costroute.evaluation: outcome data, routing metrics, training and calibration.

Nothing here is needed at request time. Training needs the ``train`` extra
(``pip install 'costroute[train]'``); everything else is pure Python.
"""

from __future__ import annotations

from costroute.evaluation._calibrate import (
    Calibration,
    Goal,
    calibrate,
    model_qualities,
    parse_goal,
)
from costroute.evaluation._data import (
    Outcome,
    auto_pair,
    common_models,
    load_outcomes,
    parse_outcome,
)
from costroute.evaluation._metrics import (
    CostQuality,
    CurvePoint,
    PairReport,
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

__all__ = [
    "Calibration",
    "CostQuality",
    "CurvePoint",
    "Goal",
    "Outcome",
    "PairReport",
    "apgr",
    "area_between",
    "auto_pair",
    "calibrate",
    "common_models",
    "cost_at_quality",
    "cost_mix_frontier",
    "cpt",
    "evaluate_pair",
    "length_scores",
    "load_outcomes",
    "model_ladder",
    "model_qualities",
    "oracle_point",
    "oracle_scores",
    "pair_curve",
    "pareto_frontier",
    "parse_goal",
    "parse_outcome",
    "pgr",
    "policy_points",
    "price_prompts",
    "quality_at_cost",
    "quantile",
    "random_scores",
    "share_to_reach",
    "single_model_points",
    "utility_policy_points",
]
