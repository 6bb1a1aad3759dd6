"""A persistent cache store in one SQLite file, safe across threads and processes.

WAL journal, ``busy_timeout``, every write one ``BEGIN IMMEDIATE`` transaction (so a process
killed mid-write leaves the previous, readable state). Running totals (entries, bytes) are kept
by triggers in the same transactions. LRU order is the ``last_access`` column: a sequence
number bumped on every hit, monotonic across processes. The file (and its WAL/SHM companions,
which SQLite creates with the same mode) is ``0600`` in a ``0700`` directory.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from costroute.cache._entry import CacheEntry, CacheStats, CorruptEntryError
from costroute.cache._store import CacheUnavailable, logger

__all__ = ["SQLiteCacheStore"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS entries (
        key TEXT PRIMARY KEY,
        namespace TEXT NOT NULL,
        blob BLOB NOT NULL,
        size INTEGER NOT NULL,
        expires_at REAL,
        last_access INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS entries_lru ON entries(last_access)",
    "CREATE INDEX IF NOT EXISTS entries_namespace ON entries(namespace)",
    """CREATE TABLE IF NOT EXISTS totals (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        entries INTEGER NOT NULL,
        bytes INTEGER NOT NULL
    )""",
    "INSERT OR IGNORE INTO totals (id, entries, bytes) VALUES (0, 0, 0)",
    """CREATE TRIGGER IF NOT EXISTS entries_ins AFTER INSERT ON entries BEGIN
        UPDATE totals SET entries = entries + 1, bytes = bytes + NEW.size WHERE id = 0;
    END""",
    """CREATE TRIGGER IF NOT EXISTS entries_del AFTER DELETE ON entries BEGIN
        UPDATE totals SET entries = entries - 1, bytes = bytes - OLD.size WHERE id = 0;
    END""",
    """CREATE TRIGGER IF NOT EXISTS entries_upd AFTER UPDATE OF size ON entries BEGIN
        UPDATE totals SET bytes = bytes - OLD.size + NEW.size WHERE id = 0;
    END""",
)

_NEXT_ACCESS = "(SELECT COALESCE(MAX(last_access), 0) + 1 FROM entries)"

_UPSERT = f"""
INSERT INTO entries (key, namespace, blob, size, expires_at, last_access)
VALUES (?, ?, ?, ?, ?, {_NEXT_ACCESS})
ON CONFLICT(key) DO UPDATE SET
    namespace = excluded.namespace, blob = excluded.blob, size = excluded.size,
    expires_at = excluded.expires_at, last_access = excluded.last_access
"""


def _create_private_file(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)


class SQLiteCacheStore:
    """LRU-bounded by ``max_entries`` and ``max_bytes``; TTL checked against ``clock``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_entries: int = 10_000,
        max_bytes: int = 256 * 1024 * 1024,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = 5.0,
    ) -> None:
        if max_entries <= 0 or max_bytes <= 0:
            raise ValueError("max_entries and max_bytes must be positive")
        self.path = Path(path)
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = 0
        with self._errors():
            _create_private_file(self.path)
            self._conn = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            with self._transaction() as conn:
                for statement in _SCHEMA:
                    conn.execute(statement)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise CacheUnavailable(f"SQLite cache at {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def get(self, key: str) -> CacheEntry | None:
        with self._lock, self._errors():
            row = self._conn.execute(
                "SELECT blob, expires_at FROM entries WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                self._misses += 1
                return None
            blob, expires_at = row
            if expires_at is not None and self._clock() >= expires_at:
                self._conn.execute("DELETE FROM entries WHERE key = ?", (key,))
                self._misses += 1
                return None
            try:
                entry = CacheEntry.from_bytes(bytes(blob), key=key)
            except CorruptEntryError:
                logger.warning("dropping a corrupted cache entry %s", key)
                self._conn.execute("DELETE FROM entries WHERE key = ?", (key,))
                self._misses += 1
                return None
            self._conn.execute(
                f"UPDATE entries SET last_access = {_NEXT_ACCESS} WHERE key = ?", (key,)
            )
            self._hits += 1
            return entry

    def set(self, entry: CacheEntry) -> None:
        blob = entry.to_bytes()
        if len(blob) > self._max_bytes:
            self.delete(entry.key)  # larger than the whole budget: never cached
            return
        with self._lock, self._errors(), self._transaction() as conn:
            conn.execute(
                _UPSERT, (entry.key, entry.namespace, blob, len(blob), entry.expires_at)
            )
            self._evict(conn)

    def _evict(self, conn: sqlite3.Connection) -> None:
        count, size = conn.execute("SELECT entries, bytes FROM totals WHERE id = 0").fetchone()
        if count <= self._max_entries and size <= self._max_bytes:
            return
        conn.execute(
            "DELETE FROM entries WHERE expires_at IS NOT NULL AND expires_at <= ?",
            (self._clock(),),
        )
        while True:
            count, size = conn.execute(
                "SELECT entries, bytes FROM totals WHERE id = 0"
            ).fetchone()
            if count <= self._max_entries and size <= self._max_bytes:
                return
            conn.execute(
                "DELETE FROM entries WHERE key = "
                "(SELECT key FROM entries ORDER BY last_access LIMIT 1)"
            )
            self._evictions += 1

    def delete(self, key: str) -> None:
        with self._lock, self._errors():
            self._conn.execute("DELETE FROM entries WHERE key = ?", (key,))

    def clear(self, namespace: str | None = None) -> None:
        with self._lock, self._errors():
            if namespace is None:
                self._conn.execute("DELETE FROM entries")
            else:
                self._conn.execute("DELETE FROM entries WHERE namespace = ?", (namespace,))

    def stats(self) -> CacheStats:
        with self._lock, self._errors():
            count, size = self._conn.execute(
                "SELECT entries, bytes FROM totals WHERE id = 0"
            ).fetchone()
            return CacheStats(
                entries=int(count),
                bytes=int(size),
                hits=self._hits,
                misses=self._misses,
                evictions=self._evictions,
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    async def aget(self, key: str) -> CacheEntry | None:
        return self.get(key)

    async def aset(self, entry: CacheEntry) -> None:
        self.set(entry)

    async def aclose(self) -> None:
        self.close()
