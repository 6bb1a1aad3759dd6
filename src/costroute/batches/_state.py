"""Durable batch state, in the ledger's own database (SQLite or PostgreSQL) next to the spend records.

Three tables (created if missing; the ledger's schema version is not touched):
``costroute_batches`` (one row a batch), ``costroute_batch_jobs`` (one row a provider job) and
``costroute_batch_items`` (one row a request, with its hold). An item moves from ``held`` to
``booked`` (answered: its record is written in the same transaction, so it is booked exactly
once however many processes collect), ``failed`` or ``released`` (its hold dropped).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .._errors import BatchError, ConfigError
from ..spend import SpendRecord
from ..spend._keys import BudgetKey

__all__ = ["BatchRow", "BatchState", "ItemRow", "JobRow", "keys_from_json", "keys_to_json"]

_TABLES = """
CREATE TABLE IF NOT EXISTS costroute_batches (
    id TEXT PRIMARY KEY, created_at TEXT NOT NULL, policy TEXT NOT NULL, tags TEXT NOT NULL,
    completion_window TEXT NOT NULL, expires_at TEXT NOT NULL, cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS costroute_batch_jobs (
    job_id TEXT PRIMARY KEY, batch_id TEXT NOT NULL, model TEXT NOT NULL, status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS costroute_batch_items (
    batch_id TEXT NOT NULL, custom_id TEXT NOT NULL, idx INTEGER NOT NULL, request_id TEXT NOT NULL UNIQUE,
    model TEXT NOT NULL, job_id TEXT NOT NULL DEFAULT '', request TEXT NOT NULL,
    hold_id TEXT NOT NULL DEFAULT '', hold_usd TEXT NOT NULL DEFAULT '0', hold_keys TEXT NOT NULL DEFAULT '[]',
    state TEXT NOT NULL, response TEXT, error TEXT NOT NULL DEFAULT '', cost_usd TEXT NOT NULL DEFAULT '0',
    PRIMARY KEY (batch_id, custom_id)
);
"""


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: str
    created_at: datetime
    policy: str
    tags: dict[str, str]
    window: str
    expires_at: datetime
    cancelled: bool


@dataclass(frozen=True, slots=True)
class JobRow:
    job_id: str
    batch_id: str
    model: str
    status: str


@dataclass(frozen=True, slots=True)
class ItemRow:
    batch_id: str
    custom_id: str
    idx: int
    request_id: str
    model: str
    job_id: str
    request: dict[str, Any]
    hold_id: str
    hold_usd: Decimal
    hold_keys: str
    state: str
    response: dict[str, Any] | None
    error: str
    cost_usd: Decimal


def keys_to_json(keys: Sequence[BudgetKey]) -> str:
    return json.dumps([{"budget": k.budget, "scope_key": k.scope_key, "period_start": k.period_start.isoformat(),
                        "period_end": k.period_end.isoformat() if k.period_end else None,
                        "limit_micros": k.limit_micros, "action": k.action} for k in keys])


def keys_from_json(text: str) -> list[BudgetKey]:
    return [BudgetKey(budget=k["budget"], scope_key=k["scope_key"],
                      period_start=datetime.fromisoformat(k["period_start"]),
                      period_end=datetime.fromisoformat(k["period_end"]) if k["period_end"] else None,
                      limit_micros=int(k["limit_micros"]), action=k["action"]) for k in json.loads(text)]


class BatchState:
    """Batch state on a SQLite or PostgreSQL ledger (anything with ``in_transaction``,
    ``insert_in`` and a ``placeholder``)."""

    def __init__(self, ledger: Any) -> None:
        ledger = getattr(ledger, "inner", ledger)  # a spooled ledger: its database
        if not callable(getattr(ledger, "in_transaction", None)) or not callable(getattr(ledger, "insert_in", None)):
            raise ConfigError(f"client.batches needs a SQLite or PostgreSQL ledger, not {ledger!r}")
        self.ledger = ledger
        self._ph = str(ledger.placeholder)

        def create(conn: Any) -> None:
            for statement in _TABLES.split(";"):
                if statement.strip():
                    conn.execute(statement)

        ledger.in_transaction(create)

    def _q(self, sql: str) -> str:
        return sql.replace("?", self._ph)

    def _exec(self, *steps: tuple[str, Sequence[Any]]) -> None:
        def run(conn: Any) -> None:
            for sql, args in steps:
                conn.execute(self._q(sql), args)

        self.ledger.in_transaction(run)

    def add(self, batch: BatchRow, items: Sequence[ItemRow]) -> None:
        self._exec(
            ("INSERT INTO costroute_batches VALUES (?, ?, ?, ?, ?, ?, ?)",
             (batch.id, batch.created_at.isoformat(), batch.policy, json.dumps(batch.tags),
              batch.window, batch.expires_at.isoformat(), int(batch.cancelled))),
            *[("INSERT INTO costroute_batch_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (i.batch_id, i.custom_id, i.idx, i.request_id, i.model, i.job_id, json.dumps(i.request),
                i.hold_id, str(i.hold_usd), i.hold_keys, i.state, None, i.error, str(i.cost_usd))) for i in items])

    def add_job(self, job: JobRow, custom_ids: Sequence[str]) -> None:
        self._exec(("INSERT INTO costroute_batch_jobs VALUES (?, ?, ?, ?)",
                    (job.job_id, job.batch_id, job.model, job.status)),
                   *[("UPDATE costroute_batch_items SET job_id = ? WHERE batch_id = ? AND custom_id = ?",
                      (job.job_id, job.batch_id, c)) for c in custom_ids])

    def set_job_status(self, job_id: str, status: str) -> None:
        self._exec(("UPDATE costroute_batch_jobs SET status = ? WHERE job_id = ?", (status, job_id)))

    def mark_cancelled(self, batch_id: str) -> None:
        self._exec(("UPDATE costroute_batches SET cancelled = 1 WHERE id = ?", (batch_id,)))

    def _read(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return list(self.ledger.in_transaction(lambda conn: conn.execute(self._q(sql), args).fetchall()))

    def batch(self, batch_id: str) -> BatchRow:
        rows = self._read("SELECT * FROM costroute_batches WHERE id = ?", (batch_id,))
        if not rows:
            raise BatchError(f"no batch {batch_id!r} in this ledger")
        r = rows[0]
        return BatchRow(r[0], datetime.fromisoformat(r[1]), r[2], json.loads(r[3]), r[4],
                        datetime.fromisoformat(r[5]), bool(r[6]))

    def batch_ids(self) -> list[str]:
        return [r[0] for r in self._read("SELECT id FROM costroute_batches ORDER BY created_at DESC, id", ())]

    def jobs(self, batch_id: str) -> list[JobRow]:
        return [JobRow(*r) for r in self._read(
            "SELECT job_id, batch_id, model, status FROM costroute_batch_jobs WHERE batch_id = ? ORDER BY job_id",
            (batch_id,))]

    def items(self, batch_id: str) -> list[ItemRow]:
        rows = self._read("SELECT * FROM costroute_batch_items WHERE batch_id = ? ORDER BY idx", (batch_id,))
        return [ItemRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], Decimal(r[8]), r[9], r[10],
                        json.loads(r[11]) if r[11] else None, r[12], Decimal(r[13])) for r in rows]

    def book(self, item: ItemRow, response: dict[str, Any], record: SpendRecord) -> bool:
        """Mark ``item`` answered and append its record, in one transaction; ``False`` (nothing
        written) when another collector booked it first."""
        def run(conn: Any) -> bool:
            cur = conn.execute(self._q(
                "UPDATE costroute_batch_items SET state = 'booked', response = ?, cost_usd = ?"
                " WHERE batch_id = ? AND custom_id = ? AND state = 'held'"),
                (json.dumps(response), str(record.cost_usd), item.batch_id, item.custom_id))
            if not cur.rowcount:
                return False
            self.ledger.insert_in(conn, record)
            return True

        return bool(self.ledger.in_transaction(run))

    def drop(self, item: ItemRow, state: str, error: str) -> bool:
        """Mark ``item`` failed or released; ``False`` when it was settled already."""
        def run(conn: Any) -> bool:
            cur = conn.execute(self._q(
                "UPDATE costroute_batch_items SET state = ?, error = ? WHERE batch_id = ? AND custom_id = ?"
                " AND state = 'held'"), (state, error[:500], item.batch_id, item.custom_id))
            return bool(cur.rowcount)

        return bool(self.ledger.in_transaction(run))
