"""Connections to one PostgreSQL database, every call bounded, every error translated once.

:class:`PgDatabase` runs ``fn(connection)`` for the PostgreSQL ledger: sync calls share one
connection behind a lock, async calls one ``AsyncConnection`` per event loop. It connects on
first use and brings the schema up to date then, so a process can start while the database is
down. Every call is bounded by ``timeout_s``: connects by ``connect_timeout``, statements by
the server's ``statement_timeout`` and, for a server that stopped answering altogether, by
cutting the socket at the deadline (:mod:`._watchdog`). A connection found broken (the server
restarted) is replaced once; the ledger's statements are all idempotent.

Errors are translated here: psycopg's exception becomes ``LedgerUnavailable`` whose
``__cause__`` is a stand-in of the same type carrying only the scrubbed message. psycopg's own
exception, its traceback and its connection info are dropped, and the error is raised outside
any ``except`` block, so no password survives in ``__cause__``, ``__context__``, their args or
a formatted traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import select
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .._errors import LedgerUnavailable
from ._health import Health
from ._redact import scrub
from ._watchdog import Watchdog, sever

__all__ = ["PgDatabase"]

T = TypeVar("T")

_LOCK_ID = 0x636F7374  # advisory lock serialising migrations across processes
_MIGRATION_S = 600.0  # a migration may rewrite a large table: its own, longer deadline
_VERSION = "SELECT COALESCE(MAX(version), 0) FROM costroute_migrations WHERE component = %s"
_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS costroute_migrations ("
    " component TEXT NOT NULL, version INTEGER NOT NULL,"
    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (component, version))"
)
_RECORD_VERSION = "INSERT INTO costroute_migrations (component, version) VALUES (%s, %s)"


@dataclass(frozen=True)
class _Done(Generic[T]):
    value: T


@dataclass(frozen=True)
class _Failed:
    error: LedgerUnavailable


def _stand_in(exc: BaseException, text: str) -> BaseException:
    """A fresh exception of ``exc``'s type carrying only ``text``: no traceback, no chain,
    none of psycopg's attached connection or diagnostics."""
    try:
        return type(exc)(text)
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {text}")


def _cut(fd: int, cut: list[bool]) -> None:
    cut.append(True)
    sever(fd)


class PgDatabase:
    """One PostgreSQL database for one component (``ledger``) and its numbered migrations."""

    def __init__(
        self, dsn: str, *, component: str, migrations: Sequence[Sequence[str]], timeout_s: float,
    ) -> None:
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict, make_conninfo
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("the PostgreSQL ledger needs psycopg 3: pip install 'costroute[postgres]'") from exc
        self._psycopg = psycopg
        self._dsn = dsn
        self._component = component
        self._migrations = tuple(tuple(m) for m in migrations)
        self.timeout_s = float(timeout_s)
        self._secrets: tuple[str, ...] = ()
        self.identity = "postgres"
        params = self._parse(conninfo_to_dict)
        self._secrets = tuple(s for s in (params.get("password"),) if s)
        self.identity = (
            f"{params.get('user') or ''}@{params.get('host') or ''}:{params.get('port') or ''}"
            f"/{params.get('dbname') or ''}"
        )
        options = f"{params.get('options') or ''} -c statement_timeout={int(self.timeout_s * 1000)}"
        extra: dict[str, Any] = {"options": options.strip()}
        if "connect_timeout" not in params:
            extra["connect_timeout"] = max(2, math.ceil(self.timeout_s))  # libpq's least is 2 s
        if "application_name" not in params:
            extra["application_name"] = "costroute"
        self._conninfo = make_conninfo(dsn, **extra)
        self.health = Health()  # unknown until the first call
        self._lock = threading.Lock()
        self._conn: Any = None
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._alock: asyncio.Lock | None = None
        self._aconn: Any = None
        self._migrated = False
        self._watchdog = Watchdog()

    @property
    def spool_name(self) -> str:
        """``ledger-spool-<hash of user/host/port/db>.jsonl`` (no secret in it)."""
        return f"ledger-spool-{hashlib.sha256(self.identity.encode()).hexdigest()[:16]}.jsonl"

    # -- errors -----------------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        text = scrub(text, self._dsn)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _parse(self, conninfo_to_dict: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        try:
            return conninfo_to_dict(self._dsn)
        except self._psycopg.Error as exc:
            error = self._unavailable(exc, "read the DSN", timed_out=False)
        raise error

    def _unavailable(self, exc: BaseException, what: str, *, timed_out: bool) -> LedgerUnavailable:
        text = self._clean(str(exc))
        why = f"no answer within {self.timeout_s:g} s" if timed_out else f"{type(exc).__name__}: {text}"
        error = LedgerUnavailable(f"ledger {self.identity}: cannot {what}: {why}")
        error.__cause__ = _stand_in(exc, text)
        error.__suppress_context__ = True
        return error

    def _busy(self, what: str) -> LedgerUnavailable:
        return LedgerUnavailable(f"ledger {self.identity}: cannot {what}: busy for {self.timeout_s:g} s")

    # -- sync -------------------------------------------------------------------------------
    def run(self, what: str, fn: Callable[[Any], T]) -> T:
        """``fn(connection)`` within ``timeout_s``; every failure is ``LedgerUnavailable``."""
        deadline = time.monotonic() + self.timeout_s
        if not self._lock.acquire(timeout=self.timeout_s):
            raise self._busy(what)
        try:
            outcome = self._run_locked(what, fn, deadline)
        finally:
            self._lock.release()
        if isinstance(outcome, _Failed):  # raised outside any except block: no __context__
            self.health.failed(outcome.error)
            raise outcome.error
        return outcome.value

    def _run_locked(self, what: str, fn: Callable[[Any], T], deadline: float) -> _Done[T] | _Failed:
        for attempt in (0, 1):
            reused = self._conn is not None and not self._conn.closed
            timed_out = False
            try:
                conn = self._conn if reused else self._connect()
                with self._watchdog.armed(conn.pgconn.socket, deadline) as arm:
                    try:
                        return _Done(fn(conn))
                    finally:
                        timed_out = arm.fired
            except (self._psycopg.Error, OSError) as exc:
                broken = self._conn is not None and (self._conn.broken or self._conn.closed)
                if broken or timed_out:
                    self._drop()
                if attempt == 0 and reused and broken and not timed_out and time.monotonic() < deadline:
                    continue  # a stale connection (e.g. the server restarted): try a fresh one
                failure = _Failed(self._unavailable(exc, what, timed_out=timed_out))
            return failure
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self) -> Any:
        conn = self._psycopg.connect(self._conninfo, autocommit=True)
        try:
            if not self._migrated:
                with self._watchdog.armed(conn.pgconn.socket, time.monotonic() + _MIGRATION_S):
                    self._migrate(conn)
                self._migrated = True
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _migrate(self, conn: Any) -> None:
        with conn.transaction():
            conn.execute("SET LOCAL statement_timeout = 0")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            conn.execute(_MIGRATIONS_TABLE)
            current = conn.execute(_VERSION, (self._component,)).fetchone()[0]
            for version, statements in enumerate(self._migrations, start=1):
                if version > current:
                    for statement in statements:
                        conn.execute(statement)
                    conn.execute(_RECORD_VERSION, (self._component, version))

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self.health.stale()
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close: it is gone
                conn.close()

    def hung_up(self) -> bool:
        """Whether the idle sync connection has something to read: a server going away says so
        (PostgreSQL sends a FATAL message, then the socket reads EOF). One ``select`` with no
        wait, no round trip; a connection in use right now is not looked at."""
        if self._conn is None or not self._lock.acquire(blocking=False):
            return False
        try:
            return self._readable(self._conn)
        finally:
            self._lock.release()

    def _readable(self, conn: Any) -> bool:
        try:
            if conn.closed or conn.broken:
                return True
            readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
            return bool(readable)
        except (OSError, ValueError, self._psycopg.Error):
            return True

    # -- async ------------------------------------------------------------------------------
    def _async_lock(self, loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
        if self._aloop is not loop or self._alock is None:
            self._finish_async()  # an earlier loop's connection cannot be used from this one
            self._aloop, self._alock = loop, asyncio.Lock()
        return self._alock

    def _finish_async(self) -> None:
        aconn, self._aconn = self._aconn, None
        if aconn is not None and not aconn.closed:
            aconn.pgconn.finish()

    async def arun(self, what: str, fn: Callable[[Any], Awaitable[T]]) -> T:
        """The async twin of :meth:`run`, on this event loop's connection."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.timeout_s
        lock = self._async_lock(loop)
        try:
            await asyncio.wait_for(lock.acquire(), self.timeout_s)
        except TimeoutError:
            busy = self._busy(what)
        else:
            try:
                outcome = await self._arun_locked(loop, what, fn, deadline)
            finally:
                lock.release()
            if isinstance(outcome, _Done):
                return outcome.value
            self.health.failed(outcome.error)
            raise outcome.error
        raise busy

    async def _arun_locked(
        self, loop: asyncio.AbstractEventLoop, what: str, fn: Callable[[Any], Awaitable[T]],
        deadline: float,
    ) -> _Done[T] | _Failed:
        for attempt in (0, 1):
            reused = self._aconn is not None and not self._aconn.closed
            cut: list[bool] = []
            try:
                aconn = self._aconn if reused else await self._aconnect(loop)
                timer = loop.call_later(max(0.0, deadline - time.monotonic()), _cut, aconn.pgconn.socket, cut)
                try:
                    return _Done(await fn(aconn))
                finally:
                    timer.cancel()
            except (self._psycopg.Error, OSError) as exc:
                timed_out = bool(cut)
                broken = self._aconn is not None and (self._aconn.broken or self._aconn.closed)
                if broken or timed_out:
                    self.health.stale()
                    self._finish_async()
                if attempt == 0 and reused and broken and not timed_out and time.monotonic() < deadline:
                    continue
                failure = _Failed(self._unavailable(exc, what, timed_out=timed_out))
            return failure
        raise AssertionError("unreachable")  # pragma: no cover

    async def _aconnect(self, loop: asyncio.AbstractEventLoop) -> Any:
        aconn = await self._psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        try:
            if not self._migrated:
                timer = loop.call_later(_MIGRATION_S, _cut, aconn.pgconn.socket, [])
                try:
                    await self._amigrate(aconn)
                finally:
                    timer.cancel()
                self._migrated = True
        except BaseException:
            aconn.pgconn.finish()
            raise
        self._aconn = aconn
        return aconn

    async def _amigrate(self, aconn: Any) -> None:
        async with aconn.transaction():
            await aconn.execute("SET LOCAL statement_timeout = 0")
            await aconn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            await aconn.execute(_MIGRATIONS_TABLE)
            current = (await (await aconn.execute(_VERSION, (self._component,))).fetchone())[0]
            for version, statements in enumerate(self._migrations, start=1):
                if version > current:
                    for statement in statements:
                        await aconn.execute(statement)
                    await aconn.execute(_RECORD_VERSION, (self._component, version))

    def ahung_up(self) -> bool:
        """:meth:`hung_up` for this event loop's idle connection."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        lock = self._alock
        if self._aloop is not loop or self._aconn is None or lock is None or lock.locked():
            return False
        return self._readable(self._aconn)

    # -- closing ----------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._drop()
        self._finish_async()
        self._watchdog.close()

    async def aclose(self) -> None:
        aconn, loop = self._aconn, self._aloop
        if aconn is not None and loop is asyncio.get_running_loop() and not aconn.closed:
            self._aconn = None
            with contextlib.suppress(Exception):  # closing a broken connection may fail: it is gone
                await aconn.close()
        self.close()
