"""The PostgreSQL ledger (``postgres`` extra: psycopg 3, imported when first constructed).

The constructor does no I/O: the first call (normally the first ``ready()``) connects and
brings the schema up to date, so a process can start while the database is down and recovers
when it is back. Every call is bounded by ``timeout_s`` and every failure is
``LedgerUnavailable`` with no secret anywhere in it (see :mod:`._postgres_io`). Writes are
group-committed (:mod:`._group`); the async half runs on psycopg's ``AsyncConnection``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import SecretStr

from ._group import GroupCommitter
from ._ledger import SummaryRow, check_source
from ._postgres_io import PgDatabase
from ._records import Feedback, FeedbackSource, SpendRecord
from ._rollup import ROLLUPS, SUMS, RollupDialect, combine, rollup_queries
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
    records_query,
    summary_query,
    summary_rows,
)

__all__ = ["PostgresLedger"]


def _split(script: str) -> tuple[str, ...]:
    return tuple(s for s in (p.strip() for p in script.split(";")) if s)


_RAW_SUMS = (  # singles and SUMS over records, as the rollup keeps them
    "SUM(CASE WHEN multi THEN 0 ELSE 1 END)", "COUNT(*)", "SUM(input_tokens)",
    "SUM(cache_read_tokens)", "SUM(cache_write_tokens)", "SUM(output_tokens)",
    "SUM(reasoning_tokens)", "SUM(cost_micros)", "SUM(baseline_micros)", "SUM(saved_micros)",
    "SUM(CASE WHEN status = 'cache_hit' THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN estimated OR status = 'estimated' THEN 1 ELSE 0 END)",
)
_NEW_SUMS = (  # the same for one new record (after "singles, attempts")
    "NEW.input_tokens", "NEW.cache_read_tokens", "NEW.cache_write_tokens", "NEW.output_tokens",
    "NEW.reasoning_tokens", "NEW.cost_micros", "NEW.baseline_micros", "NEW.saved_micros",
    "CASE WHEN NEW.status = 'cache_hit' THEN 1 ELSE 0 END",
    "CASE WHEN NEW.status = 'error' THEN 1 ELSE 0 END",
    "CASE WHEN NEW.estimated OR NEW.status = 'estimated' THEN 1 ELSE 0 END",
)

_BUCKET = "date_trunc('hour', {0}ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def _rollup_table(table: str, dims: tuple[str, ...]) -> tuple[str, str]:
    """The rollup table and its backfill from the records."""
    cols = ", ".join(dims)
    return (
        f"""CREATE TABLE {table} (
            bucket TIMESTAMPTZ NOT NULL,
            {", ".join(f"{c} JSONB NOT NULL" if c == "tags" else f"{c} TEXT NOT NULL" for c in dims)},
            singles BIGINT NOT NULL,
            {", ".join(f"{c} BIGINT NOT NULL" for c in SUMS)},
            PRIMARY KEY (bucket, {cols})
        )""",
        f"""INSERT INTO {table} (bucket, {cols}, singles, {", ".join(SUMS)})
            SELECT {_BUCKET.format("")}, {cols}, {", ".join(_RAW_SUMS)}
            FROM spend_records GROUP BY 1, {", ".join(str(i) for i in range(2, len(dims) + 2))}""",
    )


def _rollup_function() -> str:
    take_back = "\n".join(
        f"""UPDATE {table} r SET singles = r.singles - 1
                  FROM spend_records o
                  WHERE o.request_id = NEW.request_id AND o.id <> NEW.id AND NOT o.multi
                    AND r.bucket = {_BUCKET.format("o.")}
                    AND {" AND ".join(f"r.{c} = o.{c}" for c in dims)};"""
        for table, dims in ROLLUPS
    )
    add = "\n".join(
        f"""INSERT INTO {table} AS r (bucket, {", ".join(dims)}, singles, {", ".join(SUMS)})
              VALUES ({_BUCKET.format("NEW.")}, {", ".join("NEW." + c for c in dims)},
                CASE WHEN others THEN 0 ELSE 1 END, 1, {", ".join(_NEW_SUMS)})
              ON CONFLICT (bucket, {", ".join(dims)}) DO UPDATE SET
                singles = r.singles + excluded.singles,
                {", ".join(f"{c} = r.{c} + excluded.{c}" for c in SUMS)};"""
        for table, dims in ROLLUPS
    )
    return f"""CREATE FUNCTION costroute_spend_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            others BOOLEAN;
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtext('costroute-request:' || NEW.request_id));
            SELECT EXISTS (SELECT 1 FROM spend_records o
                           WHERE o.request_id = NEW.request_id AND o.id <> NEW.id) INTO others;
            IF others THEN
                {take_back}
                UPDATE spend_records SET multi = TRUE WHERE request_id = NEW.request_id AND NOT multi;
            END IF;
            {add}
            RETURN NULL;
        END
        $$"""


_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    _split("""
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
    """),
    _split("""
    CREATE TABLE feedback (
        request_id TEXT PRIMARY KEY,
        score DOUBLE PRECISION NOT NULL,
        ts TIMESTAMPTZ NOT NULL
    )
    """),
    # v3: role, cascade step, verdict, parent request, service tier, batch, answer text;
    # feedback keeps an app and a judge score apart, with the model scored.
    _split("""
    ALTER TABLE spend_records
        ADD COLUMN service_tier TEXT NOT NULL DEFAULT 'default',
        ADD COLUMN batch_id TEXT NOT NULL DEFAULT '',
        ADD COLUMN role TEXT NOT NULL DEFAULT 'answer',
        ADD COLUMN step INTEGER NOT NULL DEFAULT 0,
        ADD COLUMN verdict TEXT NOT NULL DEFAULT '',
        ADD COLUMN parent_request_id TEXT NOT NULL DEFAULT '',
        ADD COLUMN answer_text TEXT;
    ALTER TABLE feedback
        ADD COLUMN source TEXT NOT NULL DEFAULT 'app',
        ADD COLUMN model TEXT NOT NULL DEFAULT '';
    ALTER TABLE feedback DROP CONSTRAINT feedback_pkey;
    ALTER TABLE feedback ADD PRIMARY KEY (request_id, source)
    """),
    # v4: rollups kept by the database itself (see _rollup), backfilled from the records. The
    # trigger serialises the records of one request (an advisory lock per request id), so a
    # request's second record, written concurrently by another process, is always seen.
    (
        "ALTER TABLE spend_records ADD COLUMN multi BOOLEAN NOT NULL DEFAULT FALSE",
        "UPDATE spend_records SET multi = TRUE WHERE request_id IN"
        " (SELECT request_id FROM spend_records GROUP BY request_id HAVING COUNT(*) > 1)",
        "CREATE INDEX spend_records_multi ON spend_records (ts) WHERE multi",
        *(stmt for table, dims in ROLLUPS for stmt in _rollup_table(table, dims)),
        _rollup_function(),
        "CREATE TRIGGER spend_rollup_insert AFTER INSERT ON spend_records"
        " FOR EACH ROW EXECUTE FUNCTION costroute_spend_rollup()",
    ),
)


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

_ROLLUP = RollupDialect(
    ph="%s", ts_out=_ts_out, tag_expr=lambda name: ("tags ->> %s", name),
    day_of=lambda col: f"to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD')", multi_true="TRUE",
)

_INSERT = (
    f"INSERT INTO spend_records ({', '.join(COLUMNS)})"
    f" VALUES ({', '.join('%s::jsonb' if c == 'tags' else '%s' for c in COLUMNS)})"
    " ON CONFLICT (request_id, attempt) DO NOTHING"
)
_FEEDBACK_UPSERT = feedback_upsert(_DIALECT)


T = TypeVar("T")


class PostgresLedger:
    """Spend records in PostgreSQL; safe across threads, processes and hosts.

    ``timeout_s`` bounds every call; ``group_commit=False`` writes one transaction per append
    (for comparison: see ``benchmarks/bench_ledger.py``).
    """

    def __init__(
        self, dsn: str | SecretStr, *, store_prompts: bool = False, timeout_s: float = 5.0,
        group_commit: bool = True,
    ) -> None:
        secret = dsn.get_secret_value() if isinstance(dsn, SecretStr) else dsn
        self.store_prompts = store_prompts
        self._db = PgDatabase(secret, component="ledger", migrations=_MIGRATIONS, timeout_s=timeout_s)
        self._health = self._db.health
        self._committer = GroupCommitter(
            self._write_rows, awrite=self._awrite_rows, max_batch=512 if group_commit else 1
        )

    def __repr__(self) -> str:
        return f"PostgresLedger({self.identity!r})"

    @property
    def identity(self) -> str:
        """``user@host:port/db``: the database, without its password."""
        return self._db.identity

    @property
    def spool_name(self) -> str:
        """The file name of this database's spool: ``ledger-spool-<hash of user/host/db>.jsonl``."""
        return self._db.spool_name

    def schema_version(self) -> int:
        sql = "SELECT COALESCE(MAX(version), 0) FROM costroute_migrations WHERE component = 'ledger'"
        return int(self._db.run("read the schema version", lambda c: c.execute(sql).fetchone()[0]))

    # -- ready and writes -------------------------------------------------------------------
    def _probe(self) -> None:
        self._db.run("reach the database", lambda c: c.execute("SELECT 1").fetchone())
        self._health.succeeded()

    async def _aprobe(self) -> None:
        async def select_one(c: Any) -> Any:
            return await (await c.execute("SELECT 1")).fetchone()

        await self._db.arun("reach the database", select_one)
        self._health.succeeded()

    def ready(self) -> None:
        """Raises ``LedgerUnavailable`` unless a record could be written now: nothing to do
        while recent writes succeeded (and the server did not hang up on the idle connection),
        else a connect + ``SELECT 1`` within ``timeout_s``."""
        if self._db.hung_up():
            self._health.stale()
        self._health.gate(self._probe)

    async def aready(self) -> None:
        if self._db.ahung_up():
            self._health.stale()
        await self._health.agate(self._aprobe)

    def _write_rows(self, rows: list[Any]) -> None:
        def insert(conn: Any) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(_INSERT, rows)

        self._db.run("write records", insert)
        self._health.succeeded()

    async def _awrite_rows(self, rows: list[Any]) -> None:
        async def insert(conn: Any) -> None:
            async with conn.transaction(), conn.cursor() as cur:
                await cur.executemany(_INSERT, rows)

        await self._db.arun("write records", insert)
        self._health.succeeded()

    def _rows(self, records: Iterable[SpendRecord]) -> list[Any]:
        return [encode(r, _DIALECT, store_prompts=self.store_prompts) for r in records]

    placeholder = "%s"

    def in_transaction(self, fn: Callable[[Any], T]) -> T:
        """``fn(connection)`` in one transaction: for state kept next to the records, such as
        batches (:mod:`costroute.batches`)."""
        def run(conn: Any) -> T:
            with conn.transaction():
                return fn(conn)

        return self._db.run("write batch state", run)

    def insert_in(self, conn: Any, record: SpendRecord) -> bool:
        """Append ``record`` inside :meth:`in_transaction`'s ``conn``; ``False`` if a record of its
        request and attempt was booked already."""
        cur = conn.execute(_INSERT, encode(record, _DIALECT, store_prompts=self.store_prompts))
        return bool(cur.rowcount)

    def append(self, record: SpendRecord) -> None:
        self.append_many([record])

    def append_many(self, records: Iterable[SpendRecord]) -> None:
        rows = self._rows(records)
        if rows:
            self._health.check_backoff()
            self._committer.submit(rows)

    async def aappend(self, record: SpendRecord) -> None:
        await self.aappend_many([record])

    async def aappend_many(self, records: Iterable[SpendRecord]) -> None:
        rows = self._rows(records)
        if rows:
            self._health.check_backoff()
            await self._committer.asubmit(rows)

    # -- reads ------------------------------------------------------------------------------
    def _fetch(self, what: str, sql: str, params: Sequence[Any]) -> list[Any]:
        return self._db.run(what, lambda c: c.execute(sql, params).fetchall())

    async def _afetch(self, what: str, sql: str, params: Sequence[Any]) -> list[Any]:
        async def fetch(c: Any) -> list[Any]:
            return await (await c.execute(sql, params)).fetchall()  # type: ignore[no-any-return]

        return await self._db.arun(what, fetch)

    def records(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None, limit: int | None = None,
    ) -> list[SpendRecord]:
        sql, params = records_query(
            _DIALECT, since=since, until=until, tags=tags, model=model, policy=policy, limit=limit
        )
        return [decode(row, _DIALECT) for row in self._fetch("read records", sql, params)]

    async def arecords(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None, limit: int | None = None,
    ) -> list[SpendRecord]:
        sql, params = records_query(
            _DIALECT, since=since, until=until, tags=tags, model=model, policy=policy, limit=limit
        )
        return [decode(row, _DIALECT) for row in await self._afetch("read records", sql, params)]

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

        def fetch(c: Any) -> list[tuple[str, list[Any]]]:
            with c.transaction():  # one snapshot for every part
                c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                return [(q.kind, c.execute(q.sql, q.params).fetchall()) for q in queries]

        return combine(self._db.run("summarise records", fetch), tuple(group_by))

    async def asummary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]:
        queries = rollup_queries(
            _ROLLUP, group_by=group_by, since=since, until=until, tags=tags, model=model,
            policy=policy,
        )

        async def fetch(c: Any) -> list[tuple[str, list[Any]]]:
            async with c.transaction():
                await c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                return [(q.kind, await (await c.execute(q.sql, q.params)).fetchall()) for q in queries]

        return combine(await self._db.arun("summarise records", fetch), tuple(group_by))

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
        return summary_rows(self._fetch("summarise records", sql, params), tuple(group_by))

    # -- feedback ---------------------------------------------------------------------------
    def _feedback_params(
        self, request_id: str, score: float, ts: datetime, source: str, model: str
    ) -> tuple[Any, ...]:
        return (request_id, check_source(source), float(score), _ts_out(ts), model)

    def record_feedback(
        self, request_id: str, score: float, ts: datetime, *, source: FeedbackSource = "app",
        model: str = "",
    ) -> None:
        params = self._feedback_params(request_id, score, ts, source, model)
        self._db.run("write feedback", lambda c: c.execute(_FEEDBACK_UPSERT, params))

    async def arecord_feedback(
        self, request_id: str, score: float, ts: datetime, *, source: FeedbackSource = "app",
        model: str = "",
    ) -> None:
        params = self._feedback_params(request_id, score, ts, source, model)

        async def upsert(c: Any) -> None:
            await c.execute(_FEEDBACK_UPSERT, params)

        await self._db.arun("write feedback", upsert)

    def feedback(self) -> dict[str, float]:
        return effective_from_rows(self._fetch("read feedback", FEEDBACK_EFFECTIVE, ()))

    async def afeedback(self) -> dict[str, float]:
        return effective_from_rows(await self._afetch("read feedback", FEEDBACK_EFFECTIVE, ()))

    def feedback_entries(self) -> list[Feedback]:
        return feedback_from_rows(self._fetch("read feedback", FEEDBACK_ENTRIES, ()), _DIALECT)

    async def afeedback_entries(self) -> list[Feedback]:
        return feedback_from_rows(await self._afetch("read feedback", FEEDBACK_ENTRIES, ()), _DIALECT)

    # -- closing ----------------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    async def aclose(self) -> None:
        await self._db.aclose()
