"""Proof by simulation: an outcome file replayed as a user's labelled traffic.

The recorded scores stand in for the judge: each "label" is one prompt with both models of the
pair scored, as shadow sampling plus judging (or application feedback on both answers) gives.
Traffic is shuffled once; a part is held back, the classifier is trained on the first
``n`` labels of the rest, and routing on the held-back part is scored (APGR) for each ``n``.
Two ways of holding back:

* ``"same-tasks"``: a random 30 % of the prompts, i.e. later traffic of the same task mix. A
  user's traffic repeats its tasks, so learning them is legitimate, and this is what a user sees;
* ``"unseen-tasks"``: whole tasks (the ``task`` field, else ``subject``/``category``), about
  30 % of the prompts: how the learned classifier does on a kind of request it never saw.

The default classifier, untrained on the file's labels, and prompt length are scored on the
same held-back part. Needs the ``train`` extra.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from costroute.evaluation._data import Outcome
from costroute.evaluation._metrics import evaluate_pair, length_scores
from costroute.router._classifier import Classifier

__all__ = ["LABEL_COUNTS", "ReplayCurve", "ReplayPoint", "hold_back", "replay", "train_traffic_classifier"]

#: The label counts of the learning curve.
LABEL_COUNTS = (100, 300, 1000, 3000)
#: Share of the traffic held back for scoring.
HELD_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class ReplayPoint:
    labels: int
    apgr: float


@dataclass(frozen=True, slots=True)
class ReplayCurve:
    """A learning curve on one held-back part, with the untrained baselines on the same part."""

    split: str
    held: int
    points: tuple[ReplayPoint, ...]
    default_apgr: float
    length_apgr: float


def _task(o: Outcome) -> str:
    return o.task or o.group or o.source


def hold_back(
    outcomes: Sequence[Outcome], split: str, *, seed: int = 0, share: float = HELD_SHARE
) -> tuple[list[Outcome], list[Outcome]]:
    """The traffic stream (shuffled) and the held-back part, for ``split`` ``"same-tasks"`` or
    ``"unseen-tasks"`` (whole tasks held back until ``share`` of the prompts is)."""
    rng = random.Random(seed)
    order = list(outcomes)
    rng.shuffle(order)
    if split == "same-tasks":
        cut = int(len(order) * (1.0 - share))
        return order[:cut], order[cut:]
    if split != "unseen-tasks":
        raise ValueError(f"split is 'same-tasks' or 'unseen-tasks', not {split!r}")
    tasks = sorted({_task(o) for o in order})
    if len(tasks) < 2:
        raise ValueError("holding back whole tasks needs at least two tasks")
    rng.shuffle(tasks)
    held_tasks: set[str] = set()
    size = {t: sum(1 for o in order if _task(o) == t) for t in tasks}
    for t in tasks:
        if sum(size[h] for h in held_tasks) >= share * len(order) or len(held_tasks) == len(tasks) - 1:
            break
        held_tasks.add(t)
    return [o for o in order if _task(o) not in held_tasks], [o for o in order if _task(o) in held_tasks]


def train_traffic_classifier(
    outcomes: Sequence[Outcome], strong: str, weak: str, *, name: str = "traffic"
) -> Classifier:
    """The classifier ``costroute train --from-ledger`` fits on labelled traffic: learned-v2's
    recipe (word n-grams and signals, ridge on the strong-minus-weak gap), which within a user's
    own task mix can use the words of the tasks it sees."""
    from costroute.evaluation._train import TrainingSet, fit_payload
    from costroute.router._learned import LearnedClassifier

    folds = 5 if len(outcomes) >= 50 else 1
    payload = fit_payload([TrainingSet(outcomes, strong, weak, name=name)], name=name, calibration_folds=folds)
    return LearnedClassifier.from_payload(payload)


def replay(
    outcomes: Sequence[Outcome],
    strong: str,
    weak: str,
    *,
    split: str,
    counts: Sequence[int] = LABEL_COUNTS,
    seed: int = 0,
    default: Classifier | None = None,
    train: Callable[[Sequence[Outcome], str, str], Classifier] = train_traffic_classifier,
) -> ReplayCurve:
    """The learning curve for one file, pair and split. ``counts`` beyond the stream's length
    are skipped."""
    from costroute.router import default_classifier

    stream, held = hold_back(outcomes, split, seed=seed)
    s = [o.scores[strong] for o in held]
    w = [o.scores[weak] for o in held]

    def apgr(scores: Sequence[float]) -> float:
        return evaluate_pair(scores, s, w).apgr

    points = []
    for n in counts:
        if n > len(stream):
            break
        clf = train(stream[:n], strong, weak)
        points.append(ReplayPoint(n, apgr([clf.classify(o.messages).score for o in held])))
    prior = default or default_classifier()
    return ReplayCurve(
        split=split,
        held=len(held),
        points=tuple(points),
        default_apgr=apgr([prior.classify(o.messages).score for o in held]),
        length_apgr=apgr(length_scores([o.text for o in held])),
    )
