"""Shared SQLite plumbing for the ledger and the budget store.

Files are created 0600 (their directory 0700 when we create it), journaled in WAL mode, written
in ``BEGIN IMMEDIATE`` transactions with a bounded busy wait (``busy_timeout_s``), so several
threads and processes on one host can share a file. Each thread (and each process after a fork)
gets its own connection. Schema changes are numbered migrations recorded in
``costroute_migrations`` per component; a migration is a script of ``;``-separated statements,
or a sequence of statements (for statements that contain ``;`` themselves, such as triggers).
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["SQLiteFile"]

_BUSY_TIMEOUT_S = 30.0


def _create_private(path: Path) -> None:
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _begin_immediate(conn: sqlite3.Connection, timeout_s: float, busy_ms: int) -> None:
    """``BEGIN IMMEDIATE``, waiting for other processes with short jittered sleeps, at most
    ``timeout_s`` (then the "database is locked" error is raised).

    SQLite's own busy handler backs off to 100 ms sleeps, which makes the tail latency of a
    contended file poor; this loop retries every few hundred microseconds instead.
    """
    try:
        conn.execute("PRAGMA busy_timeout = 0")
        deadline = time.monotonic() + timeout_s
        delay = 0.0001
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise
            time.sleep(random.uniform(0, delay))
            delay = min(delay * 2, 0.002)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {busy_ms}")


class SQLiteFile:
    """One SQLite database file with per-thread connections and numbered migrations."""

    def __init__(
        self, path: str | os.PathLike[str], *, component: str,
        migrations: Sequence[str | Sequence[str]], busy_timeout_s: float = _BUSY_TIMEOUT_S,
    ) -> None:
        self.path = Path(path).expanduser()
        self._component = component
        self._migrations = tuple(migrations)
        self.busy_timeout_s = float(busy_timeout_s)
        self._busy_ms = max(1, int(self.busy_timeout_s * 1000))
        self._local = threading.local()
        self._lock = threading.Lock()
        # Threads of one process queue here (a fast hand-off) rather than in SQLite's busy
        # handler, which sleeps; other processes are still serialised by BEGIN IMMEDIATE.
        self._write_lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._closed = False
        if str(self.path) != ":memory:":
            _create_private(self.path)
        self._migrate()

    @property
    def closed(self) -> bool:
        return self._closed

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use, reopened after a fork)."""
        if self._closed:
            raise RuntimeError(f"{self.path} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def write(self, *, timeout_s: float | None = None) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on any exit.
        Waits at most ``timeout_s`` (default ``busy_timeout_s``) for the write lock, then
        raises ``sqlite3.OperationalError`` ("database is locked")."""
        wait = self.busy_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait
        conn = self.connection()
        if not self._write_lock.acquire(timeout=wait):
            raise sqlite3.OperationalError("database is locked (by another thread of this process)")
        try:
            _begin_immediate(conn, max(0.0, deadline - time.monotonic()), self._busy_ms)
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        finally:
            self._write_lock.release()

    @contextlib.contextmanager
    def read(self, conn: sqlite3.Connection) -> Iterator[None]:
        """A read transaction: several queries see one snapshot."""
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self.write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS costroute_migrations ("
                " component TEXT NOT NULL, version INTEGER NOT NULL,"
                " applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,"
                " PRIMARY KEY (component, version))"
            )
            row = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM costroute_migrations WHERE component = ?",
                (self._component,),
            ).fetchone()
            for version, script in enumerate(self._migrations, start=1):
                if version <= row[0]:
                    continue
                statements = script.split(";") if isinstance(script, str) else script
                for statement in statements:
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO costroute_migrations (component, version) VALUES (?, ?)",
                    (self._component, version),
                )

    def schema_version(self) -> int:
        row = self.connection().execute(
            "SELECT COALESCE(MAX(version), 0) FROM costroute_migrations WHERE component = ?",
            (self._component,),
        ).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close every connection this object opened in this process."""
        self._closed = True
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
