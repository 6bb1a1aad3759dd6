"""The SQLite ledger: the embedded default (see :func:`default_ledger_path`).

Writes are group-committed (:mod:`._group`); every wait on the file is bounded by ``timeout_s``
(another process holding the write lock longer makes the write fail with
``LedgerUnavailable``). The async methods run on one worker thread per ledger, so an event loop
never waits on the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from .._errors import LedgerUnavailable
from ._config import default_ledger_path
from ._group import GroupCommitter
from ._health import Health
from ._ledger import SummaryRow, check_source
from ._records import Feedback, FeedbackSource, SpendRecord
from ._rollup import HOUR_MICROS, ROLLUPS, SUMS, RollupDialect, combine, rollup_queries
from ._sql import (
    COLUMNS,
    FEEDBACK_EFFECTIVE,
    FEEDBACK_ENTRIES,
    Dialect,
    decode,
    effective_from_rows,
    encode,
    feedback_from_rows,
    feedback_upsert,
    micros_from_utc,
    records_query,
    summary_query,
    summary_rows,
    utc_from_micros,
)
from ._sqlite import SQLiteFile

__all__ = ["SQLiteLedger"]

T = TypeVar("T")

_RAW_SUMS = (  # singles and SUMS over records, as the rollup keeps them
    "SUM(1 - multi)", "COUNT(*)", "SUM(input_tokens)", "SUM(cache_read_tokens)",
    "SUM(cache_write_tokens)", "SUM(output_tokens)", "SUM(reasoning_tokens)", "SUM(cost_micros)",
    "SUM(baseline_micros)", "SUM(saved_micros)", "SUM(status = 'cache_hit')",
    "SUM(status = 'error')", "SUM(estimated OR status = 'estimated')",
)
_NEW_SUMS = (  # the same for one new record (after "singles, attempts")
    "NEW.input_tokens", "NEW.cache_read_tokens", "NEW.cache_write_tokens", "NEW.output_tokens",
    "NEW.reasoning_tokens", "NEW.cost_micros", "NEW.baseline_micros", "NEW.saved_micros",
    "NEW.status = 'cache_hit'", "NEW.status = 'error'", "NEW.estimated OR NEW.status = 'estimated'",
)

_BUCKET = f"(ts / {HOUR_MICROS}) * {HOUR_MICROS}"
_OTHERS = "SELECT 1 FROM spend_records o WHERE o.request_id = NEW.request_id AND o.id != NEW.id"


def _rollup_table(table: str, dims: tuple[str, ...]) -> tuple[str, str]:
    """The rollup table and its backfill from the records."""
    cols = ", ".join(dims)
    return (
        f"""CREATE TABLE {table} (
            bucket INTEGER NOT NULL,
            {", ".join(f"{c} TEXT NOT NULL" for c in dims)},
            singles INTEGER NOT NULL,
            {", ".join(f"{c} INTEGER NOT NULL" for c in SUMS)},
            PRIMARY KEY (bucket, {cols})
        )""",
        f"""INSERT INTO {table} (bucket, {cols}, singles, {", ".join(SUMS)})
            SELECT {_BUCKET}, {cols}, {", ".join(_RAW_SUMS)}
            FROM spend_records GROUP BY 1, {", ".join(str(i) for i in range(2, len(dims) + 2))}""",
    )


def _rollup_triggers() -> tuple[str, str]:
    """Two triggers per new record: the first, only when its request has other records, takes
    the earlier single one out of ``singles`` and flags them all ``multi``; the second adds the
    record to every rollup (independent of the first: they touch different columns)."""
    take_back = "; ".join(
        f"""UPDATE {table} SET singles = singles - 1
              WHERE (bucket, {", ".join(dims)}) IN (
                SELECT (o.ts / {HOUR_MICROS}) * {HOUR_MICROS}, {", ".join("o." + c for c in dims)}
                FROM spend_records o
                WHERE o.request_id = NEW.request_id AND o.id != NEW.id AND o.multi = 0)"""
        for table, dims in ROLLUPS
    )
    add = "; ".join(
        f"""INSERT INTO {table} (bucket, {", ".join(dims)}, singles, {", ".join(SUMS)})
              VALUES ((NEW.ts / {HOUR_MICROS}) * {HOUR_MICROS}, {", ".join("NEW." + c for c in dims)},
                NOT EXISTS ({_OTHERS}), 1, {", ".join(_NEW_SUMS)})
              ON CONFLICT (bucket, {", ".join(dims)}) DO UPDATE SET
                singles = singles + excluded.singles,
                {", ".join(f"{c} = {c} + excluded.{c}" for c in SUMS)}"""
        for table, dims in ROLLUPS
    )
    return (
        f"""CREATE TRIGGER spend_rollup_multi AFTER INSERT ON spend_records
            WHEN EXISTS ({_OTHERS}) BEGIN
            {take_back};
            UPDATE spend_records SET multi = 1 WHERE request_id = NEW.request_id AND multi = 0;
        END""",
        f"""CREATE TRIGGER spend_rollup_add AFTER INSERT ON spend_records BEGIN
            {add};
        END""",
    )


_MIGRATIONS: tuple[str | tuple[str, ...], ...] = (
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
    # v3: what each call was for (role, cascade step, verdict, parent request), the service
    # tier and batch it ran on, the answer text; feedback keeps an app and a judge score apart,
    # with the model scored.
    """
    ALTER TABLE spend_records ADD COLUMN service_tier TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE spend_records ADD COLUMN batch_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE spend_records ADD COLUMN role TEXT NOT NULL DEFAULT 'answer';
    ALTER TABLE spend_records ADD COLUMN step INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE spend_records ADD COLUMN verdict TEXT NOT NULL DEFAULT '';
    ALTER TABLE spend_records ADD COLUMN parent_request_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE spend_records ADD COLUMN answer_text TEXT;
    CREATE TABLE feedback_v3 (
        request_id TEXT NOT NULL,
        source TEXT NOT NULL,
        score REAL NOT NULL,
        ts INTEGER NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (request_id, source)
    );
    INSERT INTO feedback_v3 (request_id, source, score, ts) SELECT request_id, 'app', score, ts FROM feedback;
    DROP TABLE feedback;
    ALTER TABLE feedback_v3 RENAME TO feedback
    """,
    # v4: rollups kept by the database itself (see _rollup), backfilled from the records
    (
        "ALTER TABLE spend_records ADD COLUMN multi INTEGER NOT NULL DEFAULT 0",
        "UPDATE spend_records SET multi = 1 WHERE request_id IN"
        " (SELECT request_id FROM spend_records GROUP BY request_id HAVING COUNT(*) > 1)",
        "CREATE INDEX spend_records_multi ON spend_records (ts) WHERE multi = 1",
        *(stmt for table, dims in ROLLUPS for stmt in _rollup_table(table, dims)),
        *_rollup_triggers(),
    ),
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

_ROLLUP = RollupDialect(
    ph="?", ts_out=micros_from_utc, tag_expr=_tag_expr,
    day_of=lambda col: f"strftime('%Y-%m-%d', {col} / 1000000, 'unixepoch')", multi_true="1",
)

_INSERT = (
    f"INSERT OR IGNORE INTO spend_records ({', '.join(COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in COLUMNS)})"
)
_FEEDBACK_UPSERT = feedback_upsert(_DIALECT)


class SQLiteLedger:
    """Spend records in a SQLite file: WAL, ``BEGIN IMMEDIATE`` writes, 0600, many processes.

    ``timeout_s`` bounds every wait for the file's write lock; ``group_commit=False`` writes one
    transaction per append (for comparison: see ``benchmarks/bench_ledger.py``).
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, store_prompts: bool = False,
        timeout_s: float = 5.0, group_commit: bool = True,
    ) -> None:
        self.store_prompts = store_prompts
        self._timeout = float(timeout_s)
        target = default_ledger_path() if path is None else path
        try:
            self._db = SQLiteFile(
                target, component="ledger", migrations=_MIGRATIONS, busy_timeout_s=self._timeout
            )
        except (sqlite3.Error, OSError) as exc:
            raise LedgerUnavailable(f"cannot open the ledger {target}: {exc}") from exc
        self._health = Health()
        self._health.succeeded()  # the migration check just wrote to the file
        self._worker_lock = threading.Lock()
        self._worker: ThreadPoolExecutor | None = None
        self._committer = GroupCommitter(
            self._write_rows, run_in_worker=self._in_worker, max_batch=512 if group_commit else 1
        )

    def __repr__(self) -> str:
        return f"SQLiteLedger({str(self._db.path)!r})"

    @property
    def path(self) -> str:
        return str(self._db.path)

    def schema_version(self) -> int:
        with self._guard("read the schema version"):
            return self._db.schema_version()

    # -- plumbing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """The one place SQLite's errors become ``LedgerUnavailable``."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            error = LedgerUnavailable(f"ledger {self.path}: cannot {what}: {exc}")
            self._health.failed(error)
            raise error from exc

    def _in_worker(self, fn: Callable[[], Any]) -> None:
        self._executor().submit(fn)

    def _executor(self) -> ThreadPoolExecutor:
        with self._worker_lock:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(1, thread_name_prefix="costroute-ledger")
            return self._worker

    async def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the ledger's worker thread; the event loop goes on meanwhile."""
        return await asyncio.wrap_future(self._executor().submit(fn))

    def _refuse_if_closed(self) -> None:
        if self._db.closed:  # a closed ledger is a programming error, not an outage
            raise RuntimeError(f"{self.path} is closed")

    # -- writes -----------------------------------------------------------------------------
    def _probe(self) -> None:
        with self._guard("take the write lock"), self._db.write():
            pass
        self._health.succeeded()

    def ready(self) -> None:
        """Raises ``LedgerUnavailable`` unless a record could be written now: nothing to do
        while recent writes succeeded, else whether the write lock can be taken within
        ``timeout_s``."""
        self._health.gate(self._probe)

    async def aready(self) -> None:
        if not self._health.fresh():
            await self._call(self.ready)

    def _write_rows(self, rows: list[Any]) -> None:
        with self._guard("write records"), self._db.write() as conn:
            conn.executemany(_INSERT, rows)
        self._health.succeeded()

    def _rows(self, records: Iterable[SpendRecord]) -> list[Any]:
        return [encode(r, _DIALECT, store_prompts=self.store_prompts) for r in records]

    placeholder = "?"

    def in_transaction(self, fn: Callable[[Any], T]) -> T:
        """``fn(connection)`` in one write transaction on the ledger's file (``BEGIN IMMEDIATE``;
        committed when it returns): for state kept next to the records, such as batches
        (:mod:`costroute.batches`)."""
        with self._guard("write batch state"), self._db.write() as conn:
            return fn(conn)

    def insert_in(self, conn: Any, record: SpendRecord) -> bool:
        """Append ``record`` inside :meth:`in_transaction`'s ``conn``; ``False`` if a record of its
        request and attempt was booked already (records are unique per request and attempt)."""
        cur = conn.execute(_INSERT, encode(record, _DIALECT, store_prompts=self.store_prompts))
        return bool(cur.rowcount)

    def append(self, record: SpendRecord) -> None:
        self.append_many([record])

    def append_many(self, records: Iterable[SpendRecord]) -> None:
        rows = self._rows(records)
        if rows:
            self._refuse_if_closed()
            self._health.check_backoff()
            self._committer.submit(rows)

    async def aappend(self, record: SpendRecord) -> None:
        await self.aappend_many([record])

    async def aappend_many(self, records: Iterable[SpendRecord]) -> None:
        rows = self._rows(records)
        if rows:
            self._refuse_if_closed()
            self._health.check_backoff()
            await self._committer.asubmit(rows)

    # -- reads ------------------------------------------------------------------------------
    def records(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None, limit: int | None = None,
    ) -> list[SpendRecord]:
        sql, params = records_query(
            _DIALECT, since=since, until=until, tags=tags, model=model, policy=policy, limit=limit
        )
        with self._guard("read records"):
            return [decode(row, _DIALECT) for row in self._db.connection().execute(sql, params)]

    async def arecords(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None, limit: int | None = None,
    ) -> list[SpendRecord]:
        return await self._call(lambda: self.records(
            since=since, until=until, tags=tags, model=model, policy=policy, limit=limit
        ))

    def summary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]:
        """Totals per group, from the rollups (whole hours) and the records (partial hours)."""
        queries = rollup_queries(
            _ROLLUP, group_by=group_by, since=since, until=until, tags=tags, model=model,
            policy=policy,
        )
        with self._guard("summarise records"):
            conn = self._db.connection()
            with self._db.read(conn):  # one snapshot for every part
                results = [(q.kind, conn.execute(q.sql, q.params).fetchall()) for q in queries]
        return combine(results, tuple(group_by))

    def scan_summary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]:
        """:meth:`summary` by a full scan of the records (what the rollups must equal)."""
        sql, params = summary_query(
            _DIALECT, group_by=group_by, since=since, until=until, tags=tags, model=model,
            policy=policy,
        )
        with self._guard("summarise records"):
            rows = self._db.connection().execute(sql, params).fetchall()
        return summary_rows(rows, tuple(group_by))

    async def asummary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]:
        return await self._call(lambda: self.summary(
            group_by=group_by, since=since, until=until, tags=tags, model=model, policy=policy
        ))

    # -- feedback ---------------------------------------------------------------------------
    def record_feedback(
        self, request_id: str, score: float, ts: datetime, *, source: FeedbackSource = "app",
        model: str = "",
    ) -> None:
        params = (request_id, check_source(source), float(score), micros_from_utc(ts), model)
        with self._guard("write feedback"), self._db.write() as conn:
            conn.execute(_FEEDBACK_UPSERT, params)

    async def arecord_feedback(
        self, request_id: str, score: float, ts: datetime, *, source: FeedbackSource = "app",
        model: str = "",
    ) -> None:
        check_source(source)
        await self._call(lambda: self.record_feedback(request_id, score, ts, source=source, model=model))

    def feedback(self) -> dict[str, float]:
        with self._guard("read feedback"):
            return effective_from_rows(self._db.connection().execute(FEEDBACK_EFFECTIVE).fetchall())

    async def afeedback(self) -> dict[str, float]:
        return await self._call(self.feedback)

    def feedback_entries(self) -> list[Feedback]:
        with self._guard("read feedback"):
            rows = self._db.connection().execute(FEEDBACK_ENTRIES).fetchall()
        return feedback_from_rows(rows, _DIALECT)

    async def afeedback_entries(self) -> list[Feedback]:
        return await self._call(self.feedback_entries)

    # -- closing ----------------------------------------------------------------------------
    def close(self) -> None:
        with self._worker_lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True)
        self._db.close()

    async def aclose(self) -> None:
        with self._worker_lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            await asyncio.get_running_loop().run_in_executor(None, worker.shutdown)
        self._db.close()
