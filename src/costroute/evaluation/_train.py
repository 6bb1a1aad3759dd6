"""Training the learned classifier from outcome files (needs the ``train`` extra).

The label of a prompt is the quality gap ``score[strong] - score[weak]`` of its data set's
strong/weak pair (or the strong model against the mean of several cheap ones): how much the
prompt needs the stronger model. Several data sets are
trained jointly, each with its own pair, so the model learns what makes prompts need a
stronger model in general rather than one benchmark's quirks. The model is ridge regression
over the same features inference uses (:mod:`costroute.router._features`), and its raw output
is calibrated to [0, 1] by the cross-fitted distribution of predictions on the training prompts.

numpy, scipy and scikit-learn are imported only inside these functions.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from costroute._errors import CostrouteError
from costroute.evaluation._data import Outcome
from costroute.router._features import SIGNAL_NAMES, features, signals, view_of
from costroute.router._heuristic import heuristic_logit
from costroute.router._learned import FORMAT, encode_weights

__all__ = [
    "TrainingSet",
    "cross_fit",
    "fit_payload",
    "guess_task",
    "save_payload",
]

DEFAULT_DIM = 2**18
DEFAULT_ALPHA = 5.0
#: Signals are scaled up before the fit so that the ridge penalty shrinks them less than the
#: many hashed n-grams: they are the part of the model that transfers across tasks.
DEFAULT_SIGNAL_SCALE = 3.0
#: Weight of the heuristic's logit in the final raw score, relative to the learned part (both
#: standardised). Chosen on task-held-out folds: it costs ~0.003 APGR in-distribution and buys
#: ~0.05 on held-out tasks.
DEFAULT_HEURISTIC_BLEND = 0.3


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """Outcomes with the strong model and the weak model(s) whose quality gap is the label:
    ``score[strong] - mean(score[w] for w in weak)``."""

    outcomes: Sequence[Outcome]
    strong: str
    weak: str | tuple[str, ...]
    name: str = ""

    def labels(self) -> list[float]:
        weak = (self.weak,) if isinstance(self.weak, str) else self.weak
        return [o.scores[self.strong] - sum(o.scores[w] for w in weak) / len(weak) for o in self.outcomes]


def _require_train_extra() -> Any:
    try:
        import numpy as np
        import scipy.sparse  # type: ignore[import-untyped, unused-ignore]  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise CostrouteError("training needs numpy, scipy and scikit-learn: pip install 'costroute[train]'") from exc
    return np


def guess_task(text: str) -> str:
    """A coarse task family for prompts without a ``subject``/``category``: used only to group
    validation folds so that whole tasks are held out."""
    if text.startswith("Q: There are") and "house" in text:
        return "logic-puzzle"
    if re.match(r"(?i)write a (python )?function", text):
        return "code"
    if "\\boxed" in text or "$" in text or "\\frac" in text:
        return "math"
    if len(text) > 700:
        return "reading"
    if len(re.findall(r"\d+", text)) >= 2 and len(text) > 120:
        return "math"
    if text.count(",") >= 8 and len(text) < 400 and "?" not in text:
        return "word-list"
    return "qa"


def _design(outcomes: Sequence[Outcome], dim: int, bigrams: bool, signal_scale: float) -> Any:
    np = _require_train_extra()
    import scipy.sparse as sp  # type: ignore[import-untyped, unused-ignore]

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    sig = np.zeros((len(outcomes), len(SIGNAL_NAMES)))
    for r, o in enumerate(outcomes):
        terms, s = features(view_of(o.messages), dim, bigrams=bigrams)
        if terms.norm > 0:
            rows.extend([r] * len(terms.indices))
            cols.extend(terms.indices)
            vals.extend(v / terms.norm for v in terms.values)
        sig[r] = [s[n] * signal_scale for n in SIGNAL_NAMES]
    hashed = sp.csr_matrix((vals, (rows, cols)), shape=(len(outcomes), dim))
    return sp.hstack([hashed, sp.csr_matrix(sig)]).tocsr()


def _heuristic_logits(sets: Sequence[TrainingSet]) -> Any:
    np = _require_train_extra()
    return np.array([heuristic_logit(signals(view_of(o.messages))) for s in sets for o in s.outcomes])


def _blend(pred: Any, hz: Any, blend: float) -> tuple[Any, float]:
    """``pred + w * hz`` with ``w`` making the heuristic ``blend`` times the learned part's
    spread. Returns the blended values and ``w``."""
    spread = float(hz.std())
    w = blend * float(pred.std()) / spread if spread > 0 else 0.0
    return pred + w * hz, w


def _stack(sets: Sequence[TrainingSet], dim: int, bigrams: bool, scale: float) -> Any:
    np = _require_train_extra()
    import scipy.sparse as sp  # type: ignore[import-untyped, unused-ignore]

    X = sp.vstack([_design(s.outcomes, dim, bigrams, scale) for s in sets]).tocsr()
    y = np.concatenate([np.asarray(s.labels(), dtype=float) for s in sets])
    return X, y


def _folds(n: int, k: int, groups: Sequence[str] | None, seed: int) -> list[Any]:
    np = _require_train_extra()
    from sklearn.model_selection import GroupKFold, KFold

    idx = np.arange(n)
    if groups is None:
        return [te for _, te in KFold(k, shuffle=True, random_state=seed).split(idx)]
    return [te for _, te in GroupKFold(k).split(idx, groups=list(groups))]


def _ridge_predict(X: Any, y: Any, folds: Sequence[Any], alpha: float) -> Any:
    np = _require_train_extra()
    from sklearn.linear_model import Ridge

    pred = np.zeros(len(y))
    for te in folds:
        tr = np.setdiff1d(np.arange(len(y)), te)
        model = Ridge(alpha=alpha).fit(X[tr], y[tr])
        pred[te] = model.predict(X[te])
    return pred


def cross_fit(
    sets: Sequence[TrainingSet],
    *,
    k: int = 5,
    groups: Sequence[str] | None = None,
    seed: int = 0,
    dim: int = DEFAULT_DIM,
    bigrams: bool = True,
    alpha: float = DEFAULT_ALPHA,
    signal_scale: float = DEFAULT_SIGNAL_SCALE,
    heuristic_blend: float = DEFAULT_HEURISTIC_BLEND,
) -> list[list[float]]:
    """Out-of-fold raw scores for every prompt of every set (trained jointly, heuristic
    blended in as at inference).

    ``groups`` (one label per prompt, all sets concatenated) makes the folds hold out whole
    groups (subjects, tasks, sources); otherwise folds are random."""
    X, y = _stack(sets, dim, bigrams, signal_scale)
    pred = _ridge_predict(X, y, _folds(len(y), k, groups, seed), alpha)
    pred, _ = _blend(pred, _heuristic_logits(sets), heuristic_blend)
    out: list[list[float]] = []
    start = 0
    for s in sets:
        out.append([float(v) for v in pred[start : start + len(s.outcomes)]])
        start += len(s.outcomes)
    return out


def fit_payload(
    sets: Sequence[TrainingSet],
    *,
    name: str = "learned-v2",
    dim: int = DEFAULT_DIM,
    bigrams: bool = True,
    alpha: float = DEFAULT_ALPHA,
    signal_scale: float = DEFAULT_SIGNAL_SCALE,
    heuristic_blend: float = DEFAULT_HEURISTIC_BLEND,
    calibration_folds: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit on all of ``sets`` and return the weights document :class:`LearnedClassifier` loads.

    The calibration maps raw outputs to the share of training prompts predicted easier, using
    cross-fitted predictions so that it reflects prompts the model has not seen."""
    np = _require_train_extra()
    from sklearn.linear_model import Ridge

    X, y = _stack(sets, dim, bigrams, signal_scale)
    model = Ridge(alpha=alpha).fit(X, y)
    coef = np.asarray(model.coef_, dtype=float)
    if calibration_folds > 1:
        z = _ridge_predict(X, y, _folds(len(y), calibration_folds, None, seed), alpha)
    else:
        z = model.predict(X)
    z, heuristic_weight = _blend(z, _heuristic_logits(sets), heuristic_blend)
    qs = np.linspace(0.0, 1.0, 41)
    knots = np.quantile(z, qs)
    cal_z: list[float] = []
    cal_s: list[float] = []
    for zz, q in zip(knots, qs, strict=True):
        if not cal_z or zz > cal_z[-1] + 1e-9:
            cal_z.append(float(zz))
            cal_s.append(float(q))
    if len(cal_z) < 2:
        cal_z, cal_s = [cal_z[0] - 1.0, cal_z[0] + 1.0], [0.0, 1.0]
    return {
        "format": FORMAT,
        "name": name,
        "dim": dim,
        "bigrams": bigrams,
        "bias": float(model.intercept_),
        "heuristic_weight": heuristic_weight,
        "hash_weights": encode_weights(coef[:dim].tolist()),
        "signal_weights": {n: round(float(coef[dim + i]) * signal_scale, 8) for i, n in enumerate(SIGNAL_NAMES)},
        "calibration": {"z": cal_z, "score": cal_s},
        "metadata": {
            "label": "score[strong] - mean(score[weak])",
            "sets": [{"name": s.name, "prompts": len(s.outcomes), "strong": s.strong, "weak": s.weak} for s in sets],
            "alpha": alpha,
            "signal_scale": signal_scale,
            "heuristic_blend": heuristic_blend,
        },
    }


def save_payload(payload: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a weights document as gzipped JSON (byte-for-byte reproducible)."""
    data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    with open(path, "wb") as fh:
        fh.write(gzip.compress(data, compresslevel=9, mtime=0))
