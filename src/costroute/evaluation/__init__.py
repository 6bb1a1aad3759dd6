"""costroute.evaluation: outcome data, routing metrics, training and calibration.

Nothing here is needed at request time. Training needs the ``train`` extra
(``pip install 'costroute[train]'``); everything else is pure Python. Cascades are replayed from
recorded answers through :class:`costroute.cascade.CascadeRun` (:func:`replay_cascade`), searched
(:func:`search_cascades`) and validated with whole tasks held out (:func:`held_out`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
from costroute.evaluation._prices import infer_prices

if TYPE_CHECKING:
    from costroute.evaluation._cascade import (
        CascadeCandidate,
        ScoredCascade,
        SearchSpace,
        choose,
        search_cascades,
    )
    from costroute.evaluation._cascade_replay import CascadeReplay, ReplayTable, replay_cascade
    from costroute.evaluation._heldout import (
        CascadeChoice,
        Pooled,
        TaskResult,
        calibrate_cascade,
        group_rows,
        held_out,
        in_sample,
        pooled,
        route_rows,
    )

__all__ = [
    "Calibration",
    "CascadeCandidate",
    "CascadeChoice",
    "CascadeReplay",
    "CostQuality",
    "CurvePoint",
    "Goal",
    "Outcome",
    "PairReport",
    "Pooled",
    "ReplayTable",
    "ScoredCascade",
    "SearchSpace",
    "TaskResult",
    "apgr",
    "area_between",
    "auto_pair",
    "calibrate",
    "calibrate_cascade",
    "choose",
    "common_models",
    "cost_at_quality",
    "cost_mix_frontier",
    "cpt",
    "evaluate_pair",
    "group_rows",
    "held_out",
    "in_sample",
    "infer_prices",
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
    "pooled",
    "price_prompts",
    "quality_at_cost",
    "quantile",
    "random_scores",
    "replay_cascade",
    "route_rows",
    "search_cascades",
    "share_to_reach",
    "single_model_points",
    "utility_policy_points",
]

#: Cascade evaluation loads the cascade package (and pydantic) on first use, so that importing
#: this package (and the CLI) stays light.
_LAZY = {
    **dict.fromkeys(["CascadeCandidate", "ScoredCascade", "SearchSpace", "choose", "search_cascades"], "_cascade"),
    **dict.fromkeys(["CascadeChoice", "Pooled", "TaskResult", "calibrate_cascade", "group_rows", "held_out",
                     "in_sample", "pooled", "route_rows"], "_heldout"),
    **dict.fromkeys(["CascadeReplay", "ReplayTable", "replay_cascade"], "_cascade_replay"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *(n for n in globals() if n.startswith("_"))})
