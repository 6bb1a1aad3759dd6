"""The classifier contract: a pure, deterministic difficulty score for a whole conversation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["Classification", "Classifier", "Messages", "label_for"]

Messages = Sequence[Mapping[str, Any]]

#: Score boundaries of the labels, shared by every classifier so labels mean the same thing.
_LABELS: tuple[tuple[float, str], ...] = ((0.35, "easy"), (0.65, "medium"), (1.01, "hard"))


def label_for(score: float) -> str:
    """The label ("easy", "medium", "hard") for a difficulty score in [0, 1]."""
    for bound, label in _LABELS:
        if score < bound:
            return label
    return "hard"


@dataclass(frozen=True, slots=True)
class Classification:
    """A difficulty judgement: ``score`` in [0, 1], its ``label`` and the ``signals`` behind it."""

    score: float
    label: str
    signals: Mapping[str, float] = field(default_factory=dict)
    classifier: str = ""


@runtime_checkable
class Classifier(Protocol):
    """Anything that scores a conversation's difficulty. Must be pure and deterministic."""

    name: str

    def classify(self, messages: Messages) -> Classification: ...
