"""The PostgreSQL ledger (``postgres`` extra: psycopg 3, imported when first constructed)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from pydantic import SecretStr

from .._errors import CostrouteError
from ._ledger import SummaryRow
from ._records import SpendRecord
from ._redact import redact_url, scrub
from ._sql import COLUMNS, Dialect, decode, encode, records_query, summary_query, summary_rows

__all__ = ["PostgresLedger"]

_MIGRATIONS = (
    """
    CREATE TABLE spend_records (
        id BIGSERIAL PRIMARY KEY,
        request_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        ts TIMESTAMPTZ NOT NULL,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        status TEXT NOT NULL,
        policy TEXT NOT NULL,
        tier TEXT NOT NULL,
        difficulty DOUBLE PRECISION,
        input_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        reasoning_tokens BIGINT NOT NULL,
        cost_micros BIGINT NOT NULL,
        baseline_micros BIGINT NOT NULL,
        saved_micros BIGINT NOT NULL,
        input_per_mtok NUMERIC,
        output_per_mtok NUMERIC,
        price_source TEXT NOT NULL,
        latency_ms DOUBLE PRECISION NOT NULL,
        tags JSONB NOT NULL,
        prompt_hash TEXT NOT NULL,
        prompt_text TEXT,
        error TEXT NOT NULL,
        estimated BOOLEAN NOT NULL,
        UNIQUE (request_id, attempt)
    );
    CREATE INDEX spend_records_ts ON spend_records (ts)
    """,
    """
    CREATE TABLE feedback (
        request_id TEXT PRIMARY KEY,
        score DOUBLE PRECISION NOT NULL,
        ts TIMESTAMPTZ NOT NULL
    )
    """,
)

_LOCK_ID = 0x636F7374  # advisory lock serialising migrations across processes


def _ts_in(value: Any) -> datetime:
    return value.astimezone(timezone.utc)  # type: ignore[no-any-return]


def _ts_out(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return ts.astimezone(timezone.utc)


_DIALECT = Dialect(
    ph="%s",
    ts_out=_ts_out,
    ts_in=_ts_in,
    tag_expr=lambda name: ("tags ->> %s", name),
    day_expr="to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    decimal_out=lambda d: d,
    tags_out=lambda s: s,
)

_INSERT = (
    f"INSERT INTO spend_records ({', '.join(COLUMNS)})"
    f" VALUES ({', '.join('%s::jsonb' if c == 'tags' else '%s' for c in COLUMNS)})"
    " ON CONFLICT (request_id, attempt) DO NOTHING"
)


class PostgresLedger:
    """Spend records in PostgreSQL. One connection, serialised by a lock; safe across threads."""

    def __init__(self, dsn: str | SecretStr, *, store_prompts: bool = False) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "PostgresLedger needs psycopg 3: pip install 'costroute[postgres]'"
            ) from exc
        self._psycopg = psycopg
        self._dsn = dsn.get_secret_value() if isinstance(dsn, SecretStr) else dsn
        self.store_prompts = store_prompts
        self._lock = threading.Lock()
        self._conn: Any = None
        with self._lock:
            self._run(self._migrate)

    def __repr__(self) -> str:
        return f"PostgresLedger({redact_url(self._dsn)!r})"

    def _error(self, exc: Exception) -> CostrouteError:
        return CostrouteError(
            f"ledger {redact_url(self._dsn)}: {type(exc).__name__}: {scrub(str(exc), self._dsn)}"
        )

    def _run(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(conn, *args)`` holding the lock; translate psycopg errors once, here."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._psycopg.connect(self._dsn, autocommit=True)
            return fn(self._conn, *args)
        except self._psycopg.Error as exc:
            if self._conn is not None and self._conn.broken:
                self._conn = None
            raise self._error(exc) from None

    @staticmethod
    def _migrate(conn: Any) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS costroute_migrations ("
                " component TEXT NOT NULL, version INTEGER NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
                " PRIMARY KEY (component, version))"
            )
            row = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM costroute_migrations"
                " WHERE component = 'ledger'"
            ).fetchone()
            for version, script in enumerate(_MIGRATIONS, start=1):
                if version > row[0]:
                    for statement in script.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(
                        "INSERT INTO costroute_migrations (component, version)"
                        " VALUES ('ledger', %s)", (version,),
                    )

    def schema_version(self) -> int:
        with self._lock:
            row = self._run(
                lambda c: c.execute(
                    "SELECT MAX(version) FROM costroute_migrations WHERE component = 'ledger'"
                ).fetchone()
            )
        return int(row[0])

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

        def write(conn: Any) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(_INSERT, rows)

        with self._lock:
            self._run(write)

    def _fetch(self, sql: str, params: list[Any]) -> list[Any]:
        with self._lock:
            return self._run(lambda c: c.execute(sql, params).fetchall())  # type: ignore[no-any-return]

    def records(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None, limit: int | None = None,
    ) -> list[SpendRecord]:
        sql, params = records_query(
            _DIALECT, since=since, until=until, tags=tags, model=model, policy=policy, limit=limit
        )
        return [decode(row, _DIALECT) for row in self._fetch(sql, params)]

    def summary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]:
        sql, params = summary_query(
            _DIALECT, group_by=group_by, since=since, until=until, tags=tags, model=model,
            policy=policy,
        )
        return summary_rows(self._fetch(sql, params), tuple(group_by))

    def record_feedback(self, request_id: str, score: float, ts: datetime) -> None:
        sql = ("INSERT INTO feedback (request_id, score, ts) VALUES (%s, %s, %s)"
               " ON CONFLICT (request_id) DO UPDATE SET score = EXCLUDED.score, ts = EXCLUDED.ts")
        with self._lock:
            self._run(lambda c: c.execute(sql, (request_id, float(score), ts)))

    def feedback(self) -> dict[str, float]:
        rows = self._fetch("SELECT request_id, score FROM feedback", [])
        return {str(r[0]): float(r[1]) for r in rows}

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
