"""``heuristic-v1``: a hand-weighted difficulty score over cheap, named signals."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

from costroute.router._classifier import Classification, Messages, label_for
from costroute.router._features import signals, view_of

__all__ = ["HeuristicClassifier", "heuristic_logit"]

#: Hand-set weights of the signals (see :func:`costroute.router._features.signals`).
_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "length": 2.2,
        "words_per_sentence": 0.6,
        "code": 1.6,
        "math": 1.3,
        "multistep": 1.8,
        "questions": 0.8,
        "reasoning": 2.0,
        "constraints": 0.8,
        "simple": -1.5,
        "depth": 0.6,
        "context": 0.6,
        "tools": 0.5,
        "images": 0.5,
    }
)
_BIAS = -3.4


def heuristic_logit(sig: Mapping[str, float]) -> float:
    """The heuristic's logit for precomputed signals (see :func:`signals`)."""
    return _BIAS + sum(_WEIGHTS[k] * v for k, v in sig.items())


class HeuristicClassifier:
    """Scores difficulty from length, code, math, multi-step asks, reasoning verbs,
    constraints, conversation depth, tools and images. Pure and deterministic.

    ``signals`` of the result are each signal's contribution to the logit.
    """

    name = "heuristic-v1"

    __slots__ = ()

    def __repr__(self) -> str:
        return "HeuristicClassifier()"

    def classify(self, messages: Messages) -> Classification:
        sig = signals(view_of(messages))
        contributions = {k: _WEIGHTS[k] * v for k, v in sig.items()}
        z = _BIAS + sum(contributions.values())
        score = 1.0 / (1.0 + math.exp(-z))
        return Classification(score=score, label=label_for(score), signals=contributions, classifier=self.name)
