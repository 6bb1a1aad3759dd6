"""The ledger interface, the pure summary core, and the in-memory ledger.

Every backend stores money as integer micro-dollars (rounded half-even) and returns records with
``Decimal`` amounts of six decimal places, so a record reads back the same from any backend.
Appends are idempotent per ``(request_id, attempt)``: re-appending a record never double-counts.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Protocol, runtime_checkable

from ._money import from_micros, is_micros, round_micros, to_micros
from ._records import FEEDBACK_SOURCES, Feedback, FeedbackSource, SpendRecord, Tags

__all__ = [
    "GROUP_FIELDS",
    "Ledger",
    "MemoryLedger",
    "SummaryRow",
    "answering_model",
    "check_group_by",
    "check_source",
    "effective_feedback",
    "group_value",
    "matches",
    "normalize",
    "summarize",
]

GROUP_FIELDS = ("model", "policy", "tier", "status", "day", "provider", "service_tier", "role")
_TAG = re.compile(r"^tag:[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """Totals for one group. ``group`` maps each ``group_by`` field to its value."""

    group: Mapping[str, str] = field(default_factory=dict)
    requests: int = 0  # distinct request ids
    attempts: int = 0  # records
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = Decimal("0.000000")
    baseline_cost_usd: Decimal = Decimal("0.000000")
    saved_usd: Decimal = Decimal("0.000000")
    cache_hits: int = 0
    errors: int = 0
    estimated: int = 0


@runtime_checkable
class Ledger(Protocol):
    """Where spend records go. Implementations: memory, SQLite, PostgreSQL (and
    :class:`~costroute.spend.SpooledLedger` around a database one).

    Every backend failure is raised as :class:`~costroute.LedgerUnavailable` (the backend's own
    error, scrubbed of secrets, as ``__cause__``). ``ready()`` is asked before a provider is
    called: it raises ``LedgerUnavailable`` when a record could not be written now, and is cheap
    (no round trip) while writes are succeeding. ``append`` returns only once the record is
    durable. The ``a``-prefixed twins never block an event loop.
    """

    store_prompts: bool

    def ready(self) -> None: ...

    async def aready(self) -> None: ...

    def append(self, record: SpendRecord) -> None: ...

    def append_many(self, records: Iterable[SpendRecord]) -> None: ...

    async def aappend(self, record: SpendRecord) -> None: ...

    async def aappend_many(self, records: Iterable[SpendRecord]) -> None: ...

    def records(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None, limit: int | None = None,
    ) -> list[SpendRecord]:
        """Matching records, oldest first; ``since`` inclusive, ``until`` exclusive."""
        ...

    async def arecords(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None, limit: int | None = None,
    ) -> list[SpendRecord]: ...

    def summary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]:
        """Totals per group (``model``, ``policy``, ``tier``, ``status``, ``day``, ``provider``,
        ``service_tier``, ``role``, ``tag:<name>``), sorted by group values; ``day`` is the
        UTC date."""
        ...

    async def asummary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]: ...

    def record_feedback(
        self, request_id: str, score: float, ts: datetime, *, source: FeedbackSource = "app",
        model: str = "",
    ) -> None:
        """Keep the quality (0..1) of a request's answer from ``source``; a later score from the
        same source replaces an earlier one. ``model`` is the model scored (default: the one
        that answered the request, as its records say)."""
        ...

    async def arecord_feedback(
        self, request_id: str, score: float, ts: datetime, *, source: FeedbackSource = "app",
        model: str = "",
    ) -> None: ...

    def feedback(self) -> dict[str, float]:
        """Every request's effective score, by request id: its ``app`` score if it has one,
        else its ``judge`` score."""
        ...

    async def afeedback(self) -> dict[str, float]: ...

    def feedback_entries(self) -> list[Feedback]:
        """Every kept score (both sources), by request id then source."""
        ...

    async def afeedback_entries(self) -> list[Feedback]: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


def check_group_by(group_by: Sequence[str]) -> tuple[str, ...]:
    """Validate group-by fields; raises ``ValueError`` naming the bad one."""
    out = tuple(group_by)
    for name in out:
        if name not in GROUP_FIELDS and not _TAG.match(name):
            raise ValueError(
                f"cannot group by {name!r}; use one of {', '.join(GROUP_FIELDS)} or tag:<name>"
            )
    return out


def _utc(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return ts.astimezone(timezone.utc)


def normalize(record: SpendRecord, *, store_prompts: bool) -> SpendRecord:
    """The record as a ledger keeps it: UTC time, micro-dollar money, read-only tags, prompt text
    only if asked. A record already in that form (as the client builds them) is kept as is."""
    prompt = record.prompt_text if store_prompts else None
    answer = record.answer_text if store_prompts else None
    if (
        record.ts.tzinfo is timezone.utc and type(record.tags) is Tags and prompt is record.prompt_text
        and answer is record.answer_text and is_micros(record.cost_usd)
        and is_micros(record.baseline_cost_usd) and is_micros(record.saved_usd)
    ):
        return record
    return dataclasses.replace(
        record,
        ts=_utc(record.ts),
        cost_usd=round_micros(record.cost_usd),
        baseline_cost_usd=round_micros(record.baseline_cost_usd),
        saved_usd=round_micros(record.saved_usd),
        tags=Tags(record.tags),
        prompt_text=prompt,
        answer_text=answer,
    )


def check_source(source: str) -> FeedbackSource:
    """Validate a feedback source; raises ``ValueError`` naming the bad one."""
    if source not in FEEDBACK_SOURCES:
        raise ValueError(f"feedback source must be 'app' or 'judge', not {source!r}")
    return source


def effective_feedback(entries: Iterable[Feedback]) -> dict[str, float]:
    """The score that counts per request: an ``app`` score overrides a ``judge`` score,
    whatever the order they were given in."""
    out: dict[str, float] = {}
    by_app: set[str] = set()
    for e in entries:
        if e.source == "app":
            out[e.request_id] = e.score
            by_app.add(e.request_id)
        elif e.request_id not in by_app:
            out[e.request_id] = e.score
    return out


def answering_model(records: Iterable[SpendRecord]) -> dict[str, str]:
    """The model that answered each request: its last successful ``answer`` record's model."""
    best: dict[str, tuple[int, str]] = {}
    for r in records:
        if r.role == "answer" and r.status in _ANSWERED:
            seen = best.get(r.request_id)
            if seen is None or r.attempt > seen[0]:
                best[r.request_id] = (r.attempt, r.model)
    return {rid: model for rid, (_, model) in best.items()}


_ANSWERED = ("ok", "cache_hit", "estimated")


def matches(
    record: SpendRecord, *, since: datetime | None = None, until: datetime | None = None,
    tags: Mapping[str, str] | None = None, model: str | None = None, policy: str | None = None,
) -> bool:
    """Whether a record passes the ledger filters."""
    if since is not None and record.ts < _utc(since):
        return False
    if until is not None and record.ts >= _utc(until):
        return False
    if model is not None and record.model != model:
        return False
    if policy is not None and record.policy != policy:
        return False
    return all(record.tags.get(k) == v for k, v in (tags or {}).items())


def group_value(record: SpendRecord, name: str) -> str:
    """A record's value for one group-by field (``""`` for a missing tag)."""
    if name == "day":
        return _utc(record.ts).date().isoformat()
    if name.startswith("tag:"):
        return record.tags.get(name[4:], "")
    return str(getattr(record, name))


def summarize(records: Iterable[SpendRecord], group_by: Sequence[str] = ()) -> list[SummaryRow]:
    """The pure summary: totals per group, sorted by group values."""
    fields = check_group_by(group_by)
    acc: dict[tuple[str, ...], dict[str, int]] = {}
    ids: dict[tuple[str, ...], set[str]] = {}
    for r in records:
        gk = tuple(group_value(r, f) for f in fields)
        a = acc.setdefault(gk, dict.fromkeys(_SUMS, 0))
        ids.setdefault(gk, set()).add(r.request_id)
        a["attempts"] += 1
        for name in _TOKENS:
            a[name] += getattr(r, name)
        a["cost_usd"] += to_micros(r.cost_usd)
        a["baseline_cost_usd"] += to_micros(r.baseline_cost_usd)
        a["saved_usd"] += to_micros(r.saved_usd)
        a["cache_hits"] += r.status == "cache_hit"
        a["errors"] += r.status == "error"
        a["estimated"] += r.estimated or r.status == "estimated"
    return [
        row_from(dict(zip(fields, gk, strict=True)), len(ids[gk]), acc[gk])
        for gk in sorted(acc)
    ]


_TOKENS = (
    "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens"
)
_MONEY = ("cost_usd", "baseline_cost_usd", "saved_usd")
_SUMS = ("attempts", *_TOKENS, *_MONEY, "cache_hits", "errors", "estimated")


def row_from(group: Mapping[str, str], requests: int, sums: Mapping[str, int]) -> SummaryRow:
    """A summary row from integer sums (money in micro-dollars), as every backend computes them."""
    values: dict[str, object] = {k: int(sums[k] or 0) for k in _SUMS if k not in _MONEY}
    values.update({k: from_micros(int(sums[k] or 0)) for k in _MONEY})
    return SummaryRow(group=dict(group), requests=requests, **values)  # type: ignore[arg-type]


class MemoryLedger:
    """Records in a list behind a lock. For tests and short-lived processes."""

    def __init__(self, *, store_prompts: bool = False) -> None:
        self.store_prompts = store_prompts
        self._lock = threading.Lock()
        self._records: list[SpendRecord] = []
        self._seen: set[tuple[str, int]] = set()
        self._feedback: dict[tuple[str, str], Feedback] = {}

    def __repr__(self) -> str:
        return f"MemoryLedger({len(self._records)} records)"

    def ready(self) -> None:
        """Always ready: a list in memory cannot be down."""

    async def aready(self) -> None:
        """Always ready."""

    def append(self, record: SpendRecord) -> None:
        self.append_many([record])

    def append_many(self, records: Iterable[SpendRecord]) -> None:
        batch = [normalize(r, store_prompts=self.store_prompts) for r in records]
        with self._lock:
            for r in batch:
                if (r.request_id, r.attempt) not in self._seen:
                    self._seen.add((r.request_id, r.attempt))
                    self._records.append(r)

    async def aappend(self, record: SpendRecord) -> None:
        self.append_many([record])  # a list append under a lock: nothing to wait for

    async def aappend_many(self, records: Iterable[SpendRecord]) -> None:
        self.append_many(records)

    def _select(self, **filters: object) -> list[SpendRecord]:
        with self._lock:
            found = [r for r in self._records if matches(r, **filters)]  # type: ignore[arg-type]
        return sorted(found, key=lambda r: r.ts)

    def records(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None, limit: int | None = None,
    ) -> list[SpendRecord]:
        found = self._select(since=since, until=until, tags=tags, model=model, policy=policy)
        return found if limit is None else found[:limit]

    async def arecords(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None, limit: int | None = None,
    ) -> list[SpendRecord]:
        return self.records(since=since, until=until, tags=tags, model=model, policy=policy, limit=limit)

    def summary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]:
        check_group_by(group_by)
        found = self._select(since=since, until=until, tags=tags, model=model, policy=policy)
        return summarize(found, group_by)

    async def asummary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]:
        return self.summary(group_by=group_by, since=since, until=until, tags=tags, model=model, policy=policy)

    def record_feedback(
        self, request_id: str, score: float, ts: datetime, *, source: FeedbackSource = "app",
        model: str = "",
    ) -> None:
        entry = Feedback(request_id, float(score), check_source(source), model, _utc(ts))
        with self._lock:
            self._feedback[(request_id, source)] = entry

    async def arecord_feedback(
        self, request_id: str, score: float, ts: datetime, *, source: FeedbackSource = "app",
        model: str = "",
    ) -> None:
        self.record_feedback(request_id, score, ts, source=source, model=model)

    def feedback(self) -> dict[str, float]:
        return effective_feedback(self.feedback_entries())

    async def afeedback(self) -> dict[str, float]:
        return self.feedback()

    def feedback_entries(self) -> list[Feedback]:
        with self._lock:
            entries = sorted(self._feedback.values(), key=lambda e: (e.request_id, e.source))
            models = answering_model(self._records)
        return [e if e.model else dataclasses.replace(e, model=models.get(e.request_id, "")) for e in entries]

    async def afeedback_entries(self) -> list[Feedback]:
        return self.feedback_entries()

    def close(self) -> None:
        """Nothing to close."""

    async def aclose(self) -> None:
        """Nothing to close."""
