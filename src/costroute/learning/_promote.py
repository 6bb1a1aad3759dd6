"""Train on labelled traffic and promote the result only when it beats the active classifier.

The champion/challenger gate: the challenger (a classifier fitted on all the labelled traffic) is
scored by *cross-fitting* on that traffic (k folds: each prompt scored by a model trained without
it); the champion (the active classifier, the default until a first promotion) is scored on the
prompts it was not trained on, or on all of them when too few are new (which flatters it, so the
gate errs towards keeping it). The challenger replaces it only when its APGR is higher by
``margin``. Every run, promoted or not, is recorded with its figures (see
:mod:`costroute.learning._store`). Training needs the ``train`` extra.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from costroute._errors import CostrouteError
from costroute.evaluation._data import Outcome, auto_pair, common_models, parse_outcome
from costroute.evaluation._metrics import evaluate_pair
from costroute.router._classifier import Classifier

__all__ = ["MIN_LABELLED_PROMPTS", "PROMOTION_MARGIN", "GateResult", "champion_apgr", "cross_fit_apgr", "run_gate"]

#: Prompts scored for both models of the pair below which nothing is trained.
MIN_LABELLED_PROMPTS = 50
#: APGR the challenger must gain over the champion to be promoted.
PROMOTION_MARGIN = 0.01
#: Champion figures on fewer new prompts than this are taken on all of them instead.
_MIN_UNSEEN = 100


@dataclass(frozen=True, slots=True)
class GateResult:
    """One training run: the pair, the figures on the user's labelled traffic, the decision."""

    strong: str
    weak: str
    prompts: int
    challenger_apgr: float
    champion_apgr: float
    champion: str
    champion_scored_on: int
    promoted: bool
    reason: str
    payload: dict[str, Any] = field(default_factory=dict, repr=False)
    """The challenger's weights document (see :class:`~costroute.router.LearnedClassifier`)."""

    @property
    def gain(self) -> float:
        return self.challenger_apgr - self.champion_apgr


def _pair_rows(rows: Sequence[dict[str, Any]], strong: str | None, weak: str | None) -> tuple[list[Outcome], str, str]:
    """The rows scored for both models of the pair (``auto_pair`` on them by default)."""
    outcomes = [parse_outcome(r, f"traffic row {r.get('id', i)}", default_id=str(i)) for i, r in enumerate(rows)]
    if strong is None or weak is None:
        both = [o for o in outcomes if len(o.scores) >= 2]
        counts: dict[tuple[str, ...], int] = {}
        for o in both:
            key = tuple(sorted(o.scores))
            counts[key] = counts.get(key, 0) + 1
        if not counts:
            raise CostrouteError(
                "no prompt of the labelled traffic has labels for two models; shadow-sample a reference "
                "model (or label answers from two models) so the gap between them can be learned"
            )
        models = max(counts, key=lambda k: (counts[k], k))
        picked = [o for o in both if set(models) <= o.scores.keys()]
        auto_s, auto_w = auto_pair(picked) if len(common_models(picked)) >= 2 else models[:2]
        strong, weak = strong or auto_s, weak or auto_w
    if strong == weak:
        raise CostrouteError(f"strong and weak must be two different models, both are {strong!r}")
    return [o for o in outcomes if strong in o.scores and weak in o.scores], strong, weak


def _apgr(clf_scores: Sequence[float], outcomes: Sequence[Outcome], strong: str, weak: str) -> float:
    return evaluate_pair(clf_scores, [o.scores[strong] for o in outcomes], [o.scores[weak] for o in outcomes]).apgr


def cross_fit_apgr(outcomes: Sequence[Outcome], strong: str, weak: str, *, k: int = 5, seed: int = 0) -> float:
    """APGR of the traffic classifier on ``outcomes``, each scored by a fit on the other folds."""
    from costroute.evaluation._replay import train_traffic_classifier

    order = list(range(len(outcomes)))
    random.Random(seed).shuffle(order)
    scores = [0.0] * len(outcomes)
    for fold in range(k):
        held = set(order[fold::k])
        clf = train_traffic_classifier([o for i, o in enumerate(outcomes) if i not in held], strong, weak)
        for i in held:
            scores[i] = clf.classify(outcomes[i].messages).score
    return _apgr(scores, outcomes, strong, weak)


def champion_apgr(
    champion: Classifier, outcomes: Sequence[Outcome], strong: str, weak: str, *, trained_on: Collection[str] = ()
) -> tuple[float, int]:
    """The champion's APGR on the prompts it was not trained on (ids in ``trained_on``), or on
    all prompts when fewer than 100 are new; and how many prompts that was."""
    unseen = [o for o in outcomes if o.id not in trained_on]
    scored = unseen if len(unseen) >= _MIN_UNSEEN else list(outcomes)
    return _apgr([champion.classify(o.messages).score for o in scored], scored, strong, weak), len(scored)


def run_gate(
    rows: Sequence[dict[str, Any]],
    champion: Classifier,
    *,
    strong: str | None = None,
    weak: str | None = None,
    champion_trained_on: Collection[str] = (),
    margin: float = PROMOTION_MARGIN,
    name: str = "traffic",
) -> GateResult:
    """Fit a challenger on labelled traffic ``rows`` (``traffic_outcomes(...).rows``) and decide
    whether it replaces ``champion``. Raises :class:`CostrouteError` when the traffic cannot train
    one (no prompt labelled for two models, fewer than :data:`MIN_LABELLED_PROMPTS`)."""
    from costroute.evaluation._train import TrainingSet, fit_payload

    outcomes, strong, weak = _pair_rows(rows, strong, weak)
    if len(outcomes) < MIN_LABELLED_PROMPTS:
        raise CostrouteError(
            f"{len(outcomes)} prompts are labelled for both {strong} and {weak}; "
            f"training needs at least {MIN_LABELLED_PROMPTS}"
        )
    challenger = cross_fit_apgr(outcomes, strong, weak)
    champ, scored_on = champion_apgr(champion, outcomes, strong, weak, trained_on=champion_trained_on)
    promoted = challenger >= champ + margin
    reason = (
        f"challenger {challenger:.3f} beats {champion.name} {champ:.3f} by {challenger - champ:+.3f}"
        if promoted
        else f"challenger {challenger:.3f} does not beat {champion.name} {champ:.3f} by {margin} (kept)"
    )
    payload: dict[str, Any] = {}
    if promoted:
        payload = fit_payload([TrainingSet(outcomes, strong, weak, name="traffic")], name=name)
        payload["metadata"]["trained_on"] = sorted(o.id for o in outcomes)
    return GateResult(
        strong, weak, len(outcomes), challenger, champ, champion.name, scored_on, promoted, reason, payload
    )
