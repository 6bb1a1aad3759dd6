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
from costroute.router._features import (
    CONTEXT_WEIGHT,
    GRAM_MAX_WORDS,
    SIGNAL_NAMES,
    Gram,
    features,
    gram_features,
    signals,
    view_of,
)
from costroute.router._heuristic import heuristic_logit
from costroute.router._learned import FORMAT, VOCAB_FORMAT, encode_weights

__all__ = [
    "TrainingSet",
    "cross_fit",
    "cross_fit_models",
    "fit_payload",
    "guess_task",
    "save_payload",
]

#: ``dim`` 0 trains the vocabulary format; a power of two, hashed n-grams of that dimension.
DEFAULT_DIM = 0
#: Chosen on random and subject/task-grouped folds (vocabulary features): 4 to 7 are within
#: noise of each other.
DEFAULT_ALPHA = 4.0
#: Grams in fewer training prompts than this are left out of the vocabulary (and of the fit):
#: they cannot generalise, and dropping them shrinks the weights file threefold.
MIN_DF = 2
#: The vocabulary keeps this many grams, those of largest weight (zero for the rest). Costs
#: nothing in cross-fitted APGR (50k and 30k score the same) and keeps the load time small.
MAX_VOCAB = 30_000
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


def _vocab_design(outcomes: Sequence[Outcome], signal_scale: float) -> tuple[Any, list[Gram]]:
    """Presence features of every gram in ``outcomes`` (normalised as at inference), then the
    scaled signals; and the grams, in column order."""
    np = _require_train_extra()
    import scipy.sparse as sp  # type: ignore[import-untyped, unused-ignore]

    columns: dict[Gram, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    sig = np.zeros((len(outcomes), len(SIGNAL_NAMES)))
    for r, o in enumerate(outcomes):
        grams, s = gram_features(view_of(o.messages))
        norm = grams.norm
        for part, value in ((grams.latest, 1.0), (grams.context, CONTEXT_WEIGHT)):
            for g in sorted(part):  # not set order, which varies with the process's hash seed
                rows.append(r)
                cols.append(columns.setdefault(g, len(columns)))
                vals.append(value / norm)
        sig[r] = [s[n] * signal_scale for n in SIGNAL_NAMES]
    X = sp.csr_matrix((vals, (rows, cols)), shape=(len(outcomes), len(columns)))
    return sp.hstack([X, sp.csr_matrix(sig)]).tocsr(), list(columns)


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


def _stack(sets: Sequence[TrainingSet], dim: int, bigrams: bool, scale: float) -> tuple[Any, Any, list[Gram]]:
    """Features, labels and (vocabulary format) the grams of the n-gram columns."""
    np = _require_train_extra()
    import scipy.sparse as sp  # type: ignore[import-untyped, unused-ignore]

    y = np.concatenate([np.asarray(s.labels(), dtype=float) for s in sets])
    if dim == 0:
        X, grams = _vocab_design([o for s in sets for o in s.outcomes], scale)
        return X, y, grams
    X = sp.vstack([_design(s.outcomes, dim, bigrams, scale) for s in sets]).tocsr()
    return X, y, []


def _kept(X: Any, rows: Any, ngram_columns: int, min_df: int) -> Any:
    """Column indices to fit on: grams present in at least ``min_df`` of ``rows``, and every
    column after the first ``ngram_columns`` (the signals). All columns when ``min_df <= 1``."""
    np = _require_train_extra()
    if min_df <= 1 or ngram_columns == 0:
        return np.arange(X.shape[1])
    df = np.diff(X[rows][:, :ngram_columns].tocsc().indptr)
    return np.concatenate([np.flatnonzero(df >= min_df), np.arange(ngram_columns, X.shape[1])])


def _folds(n: int, k: int, groups: Sequence[str] | None, seed: int) -> list[Any]:
    np = _require_train_extra()
    from sklearn.model_selection import GroupKFold, KFold

    idx = np.arange(n)
    if groups is None:
        return [te for _, te in KFold(k, shuffle=True, random_state=seed).split(idx)]
    return [te for _, te in GroupKFold(k).split(idx, groups=list(groups))]


def _ridge_predict(X: Any, y: Any, folds: Sequence[Any], alpha: float, ngram_columns: int = 0) -> Any:
    """Out-of-fold predictions; the vocabulary (``min_df`` pruning of the first
    ``ngram_columns``) is chosen on each training fold alone."""
    np = _require_train_extra()
    from sklearn.linear_model import Ridge

    pred = np.zeros(len(y))
    for te in folds:
        tr = np.setdiff1d(np.arange(len(y)), te)
        keep = _kept(X, tr, ngram_columns, MIN_DF)
        model = Ridge(alpha=alpha).fit(X[tr][:, keep], y[tr])
        coef = _pruned(np.asarray(model.coef_, dtype=float), int((keep < ngram_columns).sum()))
        pred[te] = X[te][:, keep] @ coef + model.intercept_
    return pred


def _pruned(coef: Any, ngram_columns: int) -> Any:
    """``coef`` with all but the :data:`MAX_VOCAB` largest of its first ``ngram_columns``
    (vocabulary n-grams) set to zero; unchanged for hashed features (``ngram_columns`` 0)."""
    np = _require_train_extra()
    if ngram_columns <= MAX_VOCAB:
        return coef
    order = np.argsort(-np.abs(coef[:ngram_columns]), kind="stable")
    out = coef.copy()
    out[order[MAX_VOCAB:]] = 0.0
    return out


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
    X, y, grams = _stack(sets, dim, bigrams, signal_scale)
    pred = _ridge_predict(X, y, _folds(len(y), k, groups, seed), alpha, len(grams))
    pred, _ = _blend(pred, _heuristic_logits(sets), heuristic_blend)
    out: list[list[float]] = []
    start = 0
    for s in sets:
        out.append([float(v) for v in pred[start : start + len(s.outcomes)]])
        start += len(s.outcomes)
    return out


def cross_fit_models(
    outcomes: Sequence[Outcome],
    models: Sequence[str],
    *,
    k: int = 5,
    groups: Sequence[str] | None = None,
    seed: int = 0,
    alpha: float = DEFAULT_ALPHA,
    signal_scale: float = DEFAULT_SIGNAL_SCALE,
) -> list[dict[str, float]]:
    """Out-of-fold predicted quality of each of ``models`` on each prompt (one ridge model per
    model, vocabulary features), for per-model policies (:func:`utility_policy_points`)."""
    np = _require_train_extra()
    X, _ = _vocab_design(outcomes, signal_scale)
    ngram_columns = X.shape[1] - len(SIGNAL_NAMES)
    folds = _folds(len(outcomes), k, groups, seed)
    preds = {
        m: _ridge_predict(X, np.array([o.scores[m] for o in outcomes]), folds, alpha, ngram_columns) for m in models
    }
    return [{m: float(preds[m][i]) for m in models} for i in range(len(outcomes))]


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
    """Fit on all of ``sets`` and return the weights document :class:`LearnedClassifier` loads:
    the vocabulary format when ``dim`` is 0, else ``dim`` hashed n-grams.

    The calibration maps raw outputs to the share of training prompts predicted easier, using
    cross-fitted predictions so that it reflects prompts the model has not seen."""
    np = _require_train_extra()
    from sklearn.linear_model import Ridge

    X, y, grams = _stack(sets, dim, bigrams, signal_scale)
    keep = _kept(X, np.arange(len(y)), len(grams), MIN_DF)
    model = Ridge(alpha=alpha).fit(X[:, keep], y)
    coef = np.zeros(X.shape[1])
    coef[keep] = _pruned(np.asarray(model.coef_, dtype=float), int((keep < len(grams)).sum()))
    if calibration_folds > 1:
        z = _ridge_predict(X, y, _folds(len(y), calibration_folds, None, seed), alpha, len(grams))
    else:
        z = X @ coef + model.intercept_
    z, heuristic_weight = _blend(z, _heuristic_logits(sets), heuristic_blend)
    ngram_columns = len(grams) if dim == 0 else dim
    payload: dict[str, Any] = {
        "name": name,
        "bias": float(model.intercept_),
        "heuristic_weight": heuristic_weight,
        "signal_weights": {
            n: round(float(coef[ngram_columns + i]) * signal_scale, 8) for i, n in enumerate(SIGNAL_NAMES)
        },
        "calibration": _calibration(z),
        "metadata": {
            "label": "score[strong] - mean(score[weak])",
            "sets": [{"name": s.name, "prompts": len(s.outcomes), "strong": s.strong, "weak": s.weak} for s in sets],
            "alpha": alpha,
            "signal_scale": signal_scale,
            "heuristic_blend": heuristic_blend,
        },
    }
    if dim:
        payload.update(format=FORMAT, dim=dim, bigrams=bigrams, hash_weights=encode_weights(coef[:dim].tolist()))
    else:
        kept = keep[keep < len(grams)]
        payload.update(format=VOCAB_FORMAT, **_vocab_fields(grams, coef, kept[coef[kept] != 0.0]))
        payload["max_words"] = GRAM_MAX_WORDS
        payload["metadata"]["min_df"] = MIN_DF
    return payload


def _calibration(z: Any) -> dict[str, list[float]]:
    """Knots mapping raw outputs to the share of (cross-fitted) training outputs below them."""
    np = _require_train_extra()
    qs = np.linspace(0.0, 1.0, 41)
    cal_z: list[float] = []
    cal_s: list[float] = []
    for zz, q in zip(np.quantile(z, qs), qs, strict=True):
        if not cal_z or zz > cal_z[-1] + 1e-9:
            cal_z.append(float(zz))
            cal_s.append(float(q))
    if len(cal_z) < 2:
        cal_z, cal_s = [cal_z[0] - 1.0, cal_z[0] + 1.0], [0.0, 1.0]
    return {"z": cal_z, "score": cal_s}


def _vocab_fields(grams: Sequence[Gram], coef: Any, kept: Any) -> dict[str, str]:
    """The vocabulary of the kept gram columns, sorted (reproducible), with their weights."""
    table = {"unigram": [], "bigram": []}  # type: dict[str, list[tuple[str, float]]]
    for j in kept:
        g = grams[int(j)]
        table["bigram" if b" " in g else "unigram"].append((g.decode("utf-8"), float(coef[j])))
    out: dict[str, str] = {}
    for kind, rows in table.items():
        rows.sort()
        out[f"{kind}s"] = "\n".join(t for t, _ in rows)
        out[f"{kind}_weights"] = encode_weights([w for _, w in rows])
    return out


def save_payload(payload: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a weights document as gzipped JSON (byte-for-byte reproducible). Refuses a
    document holding NaN or infinity (a degenerate fit) with a ``ValueError``."""
    data = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")
    with open(path, "wb") as fh:
        fh.write(gzip.compress(data, compresslevel=9, mtime=0))
