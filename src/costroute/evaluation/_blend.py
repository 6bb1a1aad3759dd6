"""Training and cross-fitting ``blend-v1`` (needs the ``train`` extra).

The surface model is ridge regression of each set's strong-minus-weak quality gap (standardised
per set, so that no one pair's scale dominates) on the standardised
:func:`~costroute.router._features.surface_features`; it is blended with the prompt length by
their distributions over the training prompts (see :mod:`costroute.router._blend`).

:func:`cross_fit_blend` gives out-of-fold scores for any grouping of the prompts (by task, by
source): every score comes from a model whose training set held none of that group.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from costroute.evaluation._data import Outcome
from costroute.evaluation._train import TrainingSet, _require_train_extra
from costroute.router._blend import BLEND_FORMAT, Knots
from costroute.router._features import SURFACE_NAMES, surface_features, view_of

__all__ = [
    "DEFAULT_LENGTH_WEIGHT",
    "SURFACE_ALPHA",
    "cross_fit_blend",
    "fit_blend",
    "surface_matrix",
]

#: Weight of the prompt-length share in the blend. Chosen on the held-out tables of
#: ``benchmarks/bench_classifier.py`` (0.5 to 1.0 tried): 0.7 had the fewest held-out sets below
#: ``max(random, length) - 0.03`` with tasks and with sources held out; all were within noise.
DEFAULT_LENGTH_WEIGHT = 0.7
#: Ridge penalty of the surface model (standardised features, a few thousand prompts per set).
SURFACE_ALPHA = 10.0


def surface_matrix(outcomes: Sequence[Outcome]) -> tuple[Any, Any]:
    """The surface features (one row per prompt, :data:`SURFACE_NAMES` order) and each prompt's
    log conversation length, as inference computes them."""
    np = _require_train_extra()
    rows: list[list[float]] = []
    lengths: list[float] = []
    for o in outcomes:
        x, _, chars = surface_features(view_of(o.messages))
        rows.append(x)
        lengths.append(math.log1p(chars))
    return np.asarray(rows, dtype=float).reshape(len(rows), len(SURFACE_NAMES)), np.asarray(lengths)


def _labels(sets: Sequence[TrainingSet]) -> Any:
    np = _require_train_extra()
    parts = []
    for s in sets:
        y = np.asarray(s.labels(), dtype=float)
        sd = float(y.std())
        parts.append((y - y.mean()) / sd if sd > 0 else y - y.mean())
    return np.concatenate(parts)


def _fit_surface(X: Any, y: Any, alpha: float) -> tuple[float, Any, Any]:
    """Ridge on standardised features; returns the bias, raw-scale weights and the means."""
    np = _require_train_extra()
    from sklearn.linear_model import Ridge

    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    model = Ridge(alpha=alpha).fit((X - mean) / scale, y)
    return float(model.intercept_), np.asarray(model.coef_, dtype=float) / scale, mean


def _knots(values: Any, points: int = 41) -> Knots:
    """The share of ``values`` below each of ``points`` quantiles (duplicates dropped)."""
    np = _require_train_extra()
    xs: list[float] = []
    ys: list[float] = []
    for q in np.linspace(0.0, 1.0, points):
        x = float(np.quantile(values, q))
        if not xs or x > xs[-1] + 1e-12:
            xs.append(x)
            ys.append(float(q))
    if len(xs) < 2:
        xs, ys = [xs[0] - 1.0, xs[0] + 1.0], [0.0, 1.0]
    return Knots(xs, ys)


def _share(knots: Knots, values: Any) -> Any:
    np = _require_train_extra()
    return np.interp(values, knots.xs, knots.ys)


def _blend_parts(
    X: Any, lengths: Any, y: Any, train: Any, alpha: float, length_weight: float
) -> tuple[Any, tuple[float, Any, Any], Knots, Knots]:
    """The blend value of every row from a model fitted on the ``train`` rows alone."""
    bias, weights, mean = _fit_surface(X[train], y[train], alpha)
    raw = bias + (X - mean) @ weights
    length_knots, surface_knots = _knots(lengths[train]), _knots(raw[train])
    blend = length_weight * _share(length_knots, lengths) + (1.0 - length_weight) * _share(surface_knots, raw)
    return blend, (bias, weights, mean), length_knots, surface_knots


def cross_fit_blend(
    sets: Sequence[TrainingSet],
    groups: Sequence[str],
    *,
    length_weight: float = DEFAULT_LENGTH_WEIGHT,
    alpha: float = SURFACE_ALPHA,
) -> list[list[float]]:
    """Out-of-fold blend values for every prompt of every set: for each distinct group (one
    label per prompt, all sets concatenated), a model fitted on the other groups scores it."""
    np = _require_train_extra()
    outcomes = [o for s in sets for o in s.outcomes]
    if len(groups) != len(outcomes):
        raise ValueError("need one group per prompt")
    X, lengths = surface_matrix(outcomes)
    y = _labels(sets)
    g = np.asarray(groups)
    pred = np.zeros(len(outcomes))
    for group in sorted(set(groups)):
        held = g == group
        if held.all():
            raise ValueError("cross-fitting needs at least two groups")
        blend, *_ = _blend_parts(X, lengths, y, np.flatnonzero(~held), alpha, length_weight)
        pred[held] = blend[held]
    out: list[list[float]] = []
    start = 0
    for s in sets:
        out.append([float(v) for v in pred[start : start + len(s.outcomes)]])
        start += len(s.outcomes)
    return out


def fit_blend(
    sets: Sequence[TrainingSet],
    *,
    name: str = "blend-v1",
    length_weight: float = DEFAULT_LENGTH_WEIGHT,
    alpha: float = SURFACE_ALPHA,
) -> dict[str, Any]:
    """Fit on all of ``sets``; the weights document :class:`~costroute.router.BlendClassifier`
    loads. Its final calibration maps a blend value to the share of training prompts below it."""
    np = _require_train_extra()
    outcomes = [o for s in sets for o in s.outcomes]
    X, lengths = surface_matrix(outcomes)
    blend, (bias, weights, mean), length_knots, surface_knots = _blend_parts(
        X, lengths, _labels(sets), np.arange(len(outcomes)), alpha, length_weight
    )
    return {
        "format": BLEND_FORMAT,
        "name": name,
        "length_weight": length_weight,
        "length_knots": _rounded(length_knots),
        "surface_knots": _rounded(surface_knots),
        "calibration": _rounded(_knots(blend)),
        "surface": {
            "features": list(SURFACE_NAMES),
            "bias": round(bias, 10),
            "weights": [round(float(w), 10) for w in weights],
            "mean": [round(float(m), 10) for m in mean],
        },
        "metadata": {
            "label": "score[strong] - mean(score[weak]), standardised per set",
            "sets": [{"name": s.name, "prompts": len(s.outcomes), "strong": s.strong, "weak": s.weak} for s in sets],
            "alpha": alpha,
        },
    }


def _rounded(knots: Knots) -> dict[str, list[float]]:
    """Knots rounded for a stable file, dropping any that rounding made equal."""
    xs: list[float] = []
    ys: list[float] = []
    for x, y in zip(knots.xs, knots.ys, strict=True):
        rx = round(x, 10)
        if not xs or rx > xs[-1]:
            xs.append(rx)
            ys.append(round(y, 10))
    return {"x": xs, "y": ys}
