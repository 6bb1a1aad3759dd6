"""Labels on the user's own traffic, merged into training rows. Pure functions.

A label scores one answered request in [0, 1]. It comes from the application
(``client.feedback(request_id, score)``, source ``app``) or from the judge comparing a shadow
sample's routed answer with the reference answer (source ``judge``). The application knows its
users' outcomes, so its label overrides the judge's for the same request, whenever each was
given; among labels of one source the latest wins.

:func:`traffic_outcomes` joins labels to the ledger's records (which carry the prompt, when the
ledger stores prompts) and returns routing-outcome rows, one per distinct prompt, with each
model's mean label: the rows ``costroute train --from-ledger`` learns from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

__all__ = [
    "LABEL_SOURCES",
    "Label",
    "LabelledRecord",
    "TrafficOutcomes",
    "labels_from_feedback",
    "merge_labels",
    "traffic_outcomes",
]

LabelSource = Literal["app", "judge"]
#: Label sources, strongest first: an ``app`` label overrides a ``judge`` label.
LABEL_SOURCES: tuple[LabelSource, ...] = ("app", "judge")
_RANK = {s: i for i, s in enumerate(LABEL_SOURCES)}
#: Record statuses whose answer was delivered, and so can be labelled.
_ANSWERED = frozenset({"ok", "estimated", "cache_hit"})


@dataclass(frozen=True, slots=True)
class Label:
    """One label: ``score`` in [0, 1] for the answer of ``request_id``."""

    request_id: str
    score: float
    source: LabelSource = "app"
    ts: datetime | None = None

    def __post_init__(self) -> None:
        if not self.request_id:
            raise ValueError("a label needs a request id")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"a label's score is in [0, 1], got {self.score!r}")
        if self.source not in _RANK:
            raise ValueError(f"a label's source is one of {LABEL_SOURCES}, got {self.source!r}")


class LabelledRecord(Protocol):
    """What :func:`traffic_outcomes` reads of a ledger record (``SpendRecord`` has it all)."""

    @property
    def request_id(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def prompt_hash(self) -> str: ...
    @property
    def prompt_text(self) -> str | None: ...


def _newer(a: datetime | None, b: datetime | None) -> bool:
    """Whether ``a`` is at least as new as ``b`` (a missing time is the oldest)."""
    if a is None:
        return b is None
    return b is None or a >= b


def merge_labels(labels: Iterable[Label]) -> dict[str, Label]:
    """The label that counts for each request: the strongest source's (``app`` over ``judge``),
    and within one source the latest (a label without a time counts as the oldest; equal times:
    the one given last)."""
    out: dict[str, Label] = {}
    for label in labels:
        kept = out.get(label.request_id)
        if (
            kept is None
            or _RANK[label.source] < _RANK[kept.source]
            or (label.source == kept.source and _newer(label.ts, kept.ts))
        ):
            out[label.request_id] = label
    return out


def labels_from_feedback(feedback: Mapping[str, float], *, source: LabelSource = "app") -> list[Label]:
    """Labels from a ledger's ``feedback()`` table (``{request_id: score}``), all of one source:
    today's ledgers record feedback without its source, and it all comes from ``client.feedback``."""
    return [Label(rid, float(score), source) for rid, score in sorted(feedback.items())]


@dataclass(frozen=True, slots=True)
class TrafficOutcomes:
    """Outcome rows built from labelled traffic, and what went into them."""

    rows: list[dict[str, Any]]
    """``{"id", "source", "prompt", "scores": {model: mean label}}``, one per distinct prompt."""
    labels: int
    """Labels used (on answered records with a stored prompt)."""
    by_source: dict[str, int]
    """Labels used, per source."""
    unusable: int
    """Labels whose request has no answered record with a stored prompt."""


def traffic_outcomes(records: Iterable[LabelledRecord], labels: Iterable[Label]) -> TrafficOutcomes:
    """Outcome rows from ledger records and labels (merged with :func:`merge_labels`). Records of
    a request's failed attempts are skipped; a request with several answered records (it cannot
    have, today) counts once. Prompts are grouped by ``prompt_hash`` (the request id without one)."""
    merged = merge_labels(labels)
    rows: dict[str, dict[str, Any]] = {}
    given: dict[str, dict[str, list[float]]] = {}
    used: set[str] = set()
    by_source: dict[str, int] = {}
    for r in records:
        label = merged.get(r.request_id)
        if label is None or r.request_id in used or r.status not in _ANSWERED or not r.prompt_text:
            continue
        used.add(r.request_id)
        by_source[label.source] = by_source.get(label.source, 0) + 1
        key = r.prompt_hash or r.request_id
        rows.setdefault(key, {"id": key, "source": "costroute/ledger", "prompt": r.prompt_text})
        given.setdefault(key, {}).setdefault(r.model, []).append(label.score)
    for key, row in rows.items():
        row["scores"] = {model: sum(v) / len(v) for model, v in sorted(given[key].items())}
    return TrafficOutcomes(
        rows=list(rows.values()), labels=len(used), by_source=dict(sorted(by_source.items())),
        unusable=len(merged) - len(used),
    )
