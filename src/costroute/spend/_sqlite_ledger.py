"""The SQLite ledger: the embedded default (see :func:`default_ledger_path`)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .._errors import CostrouteError
from ._config import default_ledger_path
from ._ledger import SummaryRow
from ._records import SpendRecord
from ._sql import (
    COLUMNS,
    Dialect,
    decode,
    encode,
    micros_from_utc,
    records_query,
    summary_query,
    summary_rows,
    utc_from_micros,
)
from ._sqlite import SQLiteFile

__all__ = ["SQLiteLedger"]

_MIGRATIONS = (
    """
    CREATE TABLE spend_records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        status TEXT NOT NULL,
        policy TEXT NOT NULL,
        tier TEXT NOT NULL,
        difficulty REAL,
        input_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cost_micros INTEGER NOT NULL,
        baseline_micros INTEGER NOT NULL,
        saved_micros INTEGER NOT NULL,
        input_per_mtok TEXT,
        output_per_mtok TEXT,
        price_source TEXT NOT NULL,
        latency_ms REAL NOT NULL,
        tags TEXT NOT NULL,
        prompt_hash TEXT NOT NULL,
        prompt_text TEXT,
        error TEXT NOT NULL,
        estimated INTEGER NOT NULL,
        UNIQUE (request_id, attempt)
    );
    CREATE INDEX spend_records_ts ON spend_records (ts)
    """,
    """
    CREATE TABLE feedback (
        request_id TEXT PRIMARY KEY,
        score REAL NOT NULL,
        ts INTEGER NOT NULL
    )
    """,
)


def _tag_expr(name: str) -> tuple[str, Any]:
    return "json_extract(tags, ?)", '$."' + name.replace('"', '""') + '"'


_DIALECT = Dialect(
    ph="?",
    ts_out=micros_from_utc,
    ts_in=utc_from_micros,
    tag_expr=_tag_expr,
    day_expr="strftime('%Y-%m-%d', ts / 1000000, 'unixepoch')",
    decimal_out=str,
    tags_out=str,
)

_INSERT = (
    f"INSERT OR IGNORE INTO spend_records ({', '.join(COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in COLUMNS)})"
)


class SQLiteLedger:
    """Spend records in a SQLite file: WAL, ``BEGIN IMMEDIATE`` writes, 0600, many processes."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, store_prompts: bool = False
    ) -> None:
        self.store_prompts = store_prompts
        try:
            self._db = SQLiteFile(
                default_ledger_path() if path is None else path,
                component="ledger", migrations=_MIGRATIONS,
            )
        except sqlite3.Error as exc:
            raise CostrouteError(f"cannot open the ledger {path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"SQLiteLedger({str(self._db.path)!r})"

    @property
    def path(self) -> str:
        return str(self._db.path)

    def schema_version(self) -> int:
        return self._db.schema_version()

    # Interim: the async half calls the sync operation and ready() checks nothing yet; the
    # ledger work of the "one request loop" issue replaces both (non-blocking I/O, a real probe).
    def ready(self) -> None:
        """Whether a record could be written now (interim: assumed)."""

    async def aready(self) -> None:
        self.ready()

    async def aappend(self, record: SpendRecord) -> None:
        self.append_many([record])

    async def aappend_many(self, records: Iterable[SpendRecord]) -> None:
        self.append_many(records)

    async def aclose(self) -> None:
        self.close()

    def append(self, record: SpendRecord) -> None:
        self.append_many([record])

    def append_many(self, records: Iterable[SpendRecord]) -> None:
        rows = [encode(r, _DIALECT, store_prompts=self.store_prompts) for r in records]
        if not rows:
            return
        with self._db.write() as conn:
            conn.executemany(_INSERT, rows)

    def records(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None, limit: int | None = None,
    ) -> list[SpendRecord]:
        sql, params = records_query(
            _DIALECT, since=since, until=until, tags=tags, model=model, policy=policy, limit=limit
        )
        return [decode(row, _DIALECT) for row in self._db.connection().execute(sql, params)]

    def summary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]:
        sql, params = summary_query(
            _DIALECT, group_by=group_by, since=since, until=until, tags=tags, model=model,
            policy=policy,
        )
        rows = self._db.connection().execute(sql, params).fetchall()
        return summary_rows(rows, tuple(group_by))

    def record_feedback(self, request_id: str, score: float, ts: datetime) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO feedback (request_id, score, ts) VALUES (?, ?, ?)"
                " ON CONFLICT (request_id) DO UPDATE SET score = excluded.score, ts = excluded.ts",
                (request_id, float(score), micros_from_utc(ts)),
            )

    def feedback(self) -> dict[str, float]:
        rows = self._db.connection().execute("SELECT request_id, score FROM feedback").fetchall()
        return {str(r[0]): float(r[1]) for r in rows}

    def close(self) -> None:
        self._db.close()
