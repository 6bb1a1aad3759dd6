"""What the client exposes as ``client.spend``, and backends built from configuration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Literal, TextIO

from .._errors import RequestValidationError
from ._config import BudgetStoreConfig, LedgerConfig, default_data_dir
from ._export import export_csv, export_jsonl
from ._ledger import Ledger, MemoryLedger, SummaryRow
from ._records import Feedback, FeedbackSource, SpendRecord
from ._spool import SpooledLedger
from ._store import BudgetStore, MemoryBudgetStore

__all__ = ["SpendView", "budget_store_from_config", "ledger_from_config"]


class SpendView:
    """Read-only access to a ledger: records, summaries, totals and exports."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def __repr__(self) -> str:
        return f"SpendView({self.ledger!r})"

    def records(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None, limit: int | None = None,
    ) -> list[SpendRecord]:
        return self.ledger.records(
            since=since, until=until, tags=tags, model=model, policy=policy, limit=limit
        )

    def summary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]:
        return self.ledger.summary(
            group_by=group_by, since=since, until=until, tags=tags, model=model, policy=policy
        )

    async def asummary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]:
        """The async twin of :meth:`summary` (the ledger's own async read)."""
        return await self.ledger.asummary(
            group_by=group_by, since=since, until=until, tags=tags, model=model, policy=policy
        )

    def total(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None,
    ) -> Decimal:
        """Total cost in dollars of the matching records."""
        rows = self.summary(since=since, until=until, tags=tags, model=model, policy=policy)
        return rows[0].cost_usd if rows else Decimal("0.000000")

    def export(
        self, file: TextIO, *, format: Literal["csv", "jsonl"] = "csv",
        since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None,
    ) -> int:
        """Write the matching records to ``file``; returns how many were written."""
        found = self.records(since=since, until=until, tags=tags, model=model, policy=policy)
        if format == "csv":
            return export_csv(found, file)
        if format == "jsonl":
            return export_jsonl(found, file)
        raise ValueError(f"unknown export format {format!r}; use 'csv' or 'jsonl'")

    def feedback(
        self, request_id: str, score: float, *, now: datetime | None = None,
        source: FeedbackSource = "app", model: str = "",
    ) -> None:
        """Record how good a request's answer was (0 = wrong/useless, 1 = right). ``source`` is
        ``app`` (the application's verdict, which always wins) or ``judge``; ``model`` is the
        model scored (default: the one that answered the request)."""
        if not isinstance(request_id, str) or not request_id:
            raise RequestValidationError("must be a non-empty request id", location="request_id")
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
            raise RequestValidationError(f"must be a number from 0 to 1, not {score!r}", location="score")
        if source not in ("app", "judge"):
            raise RequestValidationError(f"must be 'app' or 'judge', not {source!r}", location="source")
        self.ledger.record_feedback(
            request_id, float(score), now or datetime.now(timezone.utc), source=source, model=model
        )

    def outcomes(self, *, since: datetime | None = None, until: datetime | None = None) -> list[dict[str, object]]:
        """Answered requests with feedback, as routing-outcome rows (``costroute train`` input):
        ``{"id", "source", "prompt", "scores": {model: score}}``, one row per distinct prompt
        (its ``prompt_hash``), with each model's mean score on it. Training needs prompts scored
        for two models or more: answer a sample of prompts with two models (e.g. pinned with
        ``model=``) and give feedback on both. Needs ``store_prompts: true``.

        A request's score is its ``app`` score, else its ``judge`` score, and counts for the
        model it is about (the one that answered); only ``answer`` records count."""
        feedback: dict[str, Feedback] = {}
        for label in self.ledger.feedback_entries():  # by request, then source: "app" < "judge"
            feedback.setdefault(label.request_id, label)
        rows: dict[str, dict[str, object]] = {}
        given: dict[str, dict[str, list[float]]] = {}
        for r in self.records(since=since, until=until):
            entry = feedback.get(r.request_id)
            if (
                entry is not None and r.prompt_text and r.role == "answer"
                and r.status in ("ok", "estimated", "cache_hit") and entry.model in ("", r.model)
            ):
                key = r.prompt_hash or r.request_id
                rows.setdefault(key, {"id": key, "source": "costroute/ledger", "prompt": r.prompt_text})
                given.setdefault(key, {}).setdefault(r.model, []).append(entry.score)
        for key, row in rows.items():
            row["scores"] = {model: sum(v) / len(v) for model, v in sorted(given[key].items())}
        return list(rows.values())


def ledger_from_config(cfg: LedgerConfig) -> Ledger:
    """The ledger a ``ledger:`` section describes (SQLite at the default path by default).

    A database ledger comes wrapped in a :class:`SpooledLedger`: a record the database cannot
    take after the provider answered waits in a local spool (SQLite: ``<ledger path>.spool``;
    PostgreSQL: ``ledger-spool-<hash of user/host/db>.jsonl`` in :func:`default_data_dir`).
    """
    if cfg.backend == "memory":
        return MemoryLedger(store_prompts=cfg.store_prompts)
    if cfg.backend == "sqlite":
        from ._sqlite_ledger import SQLiteLedger

        sqlite = SQLiteLedger(cfg.path, store_prompts=cfg.store_prompts, timeout_s=cfg.timeout_s)
        return SpooledLedger(sqlite, f"{sqlite.path}.spool")
    from ._postgres_ledger import PostgresLedger

    assert cfg.dsn is not None  # the config validator guarantees it
    pg = PostgresLedger(cfg.dsn, store_prompts=cfg.store_prompts, timeout_s=cfg.timeout_s)
    return SpooledLedger(pg, default_data_dir() / pg.spool_name)


def budget_store_from_config(cfg: BudgetStoreConfig) -> BudgetStore:
    """The store a ``budget_store:`` section describes (SQLite at the default path by default)."""
    if cfg.backend == "memory":
        return MemoryBudgetStore()
    if cfg.backend == "sqlite":
        from ._sqlite_store import SQLiteBudgetStore

        return SQLiteBudgetStore(cfg.path)
    from ._redis_store import RedisBudgetStore

    assert cfg.url is not None  # the config validator guarantees it
    return RedisBudgetStore(cfg.url.get_secret_value(), socket_timeout=cfg.timeout_s)
