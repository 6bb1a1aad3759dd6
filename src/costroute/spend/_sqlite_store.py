"""The SQLite budget store: the default, for every process on one host.

Each operation is one ``BEGIN IMMEDIATE`` transaction, so the check and the reservation are
atomic across threads and processes. ``reserved`` is the sum of the live reservation rows, so it
can never drift from them.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence

from .._errors import BudgetStoreUnavailable
from ._config import default_budget_store_path
from ._keys import BudgetKey
from ._seeding import StoreUnseeded
from ._sqlite import SQLiteFile
from ._store import BudgetState, CounterState, LocalBudgetStore, ReserveOutcome, alert_id

__all__ = ["SQLiteBudgetStore"]

_MIGRATIONS = (
    """
    CREATE TABLE budget_counters (
        key_id TEXT PRIMARY KEY,
        spent INTEGER NOT NULL
    );
    CREATE TABLE budget_reservations (
        reservation_id TEXT NOT NULL,
        key_id TEXT NOT NULL,
        amount INTEGER NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (key_id, reservation_id)
    );
    CREATE INDEX budget_reservations_expiry ON budget_reservations (expires_at);
    CREATE TABLE budget_alerts (
        alert_id TEXT PRIMARY KEY,
        created_at REAL NOT NULL
    )
    """,
    # the "seeded" marker (see _seeding): a file that already holds counters was kept by this
    # store before the marker existed, and counts as seeded; a new file does not
    """
    CREATE TABLE budget_meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO budget_meta (name, value)
        SELECT 'seeded', 'migrated' WHERE EXISTS (SELECT 1 FROM budget_counters)
    """,
)


def _state(conn: sqlite3.Connection, key_id: str, now: float) -> CounterState:
    row = conn.execute(
        "SELECT (SELECT spent FROM budget_counters WHERE key_id = ?),"
        " (SELECT SUM(amount) FROM budget_reservations WHERE key_id = ? AND expires_at > ?)",
        (key_id, key_id, now),
    ).fetchone()
    return CounterState(int(row[0] or 0), int(row[1] or 0))


def _check(conn: sqlite3.Connection, guarded: bool, path: str) -> None:
    if guarded and conn.execute("SELECT 1 FROM budget_meta WHERE name = 'seeded'").fetchone() is None:
        raise StoreUnseeded(f"the budget store {path} has not been seeded from the ledger")


class SQLiteBudgetStore(LocalBudgetStore):
    """Budget counters in a SQLite file (default :func:`default_budget_store_path`)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        try:
            self._db = SQLiteFile(
                default_budget_store_path() if path is None else path,
                component="budgets", migrations=_MIGRATIONS,
            )
        except sqlite3.Error as exc:
            raise BudgetStoreUnavailable(f"cannot open the budget store {path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"SQLiteBudgetStore({str(self._db.path)!r})"

    @property
    def path(self) -> str:
        return str(self._db.path)

    def reserve(
        self, reservation_id: str, keys: Sequence[BudgetKey], amount: int, *, now: float,
        ttl_s: float, guarded: bool = False,
    ) -> ReserveOutcome:
        try:
            with self._db.write() as conn:
                _check(conn, guarded, self.path)
                conn.execute("DELETE FROM budget_reservations WHERE expires_at <= ?", (now,))
                held = {
                    row[0] for row in conn.execute(
                        "SELECT key_id FROM budget_reservations WHERE reservation_id = ?",
                        (reservation_id,),
                    )
                }
                states = [_state(conn, k.id, now) for k in keys]
                denied = tuple(
                    i for i, (k, s) in enumerate(zip(keys, states, strict=True))
                    if k.enforced and k.id not in held
                    and s.spent + s.reserved + amount > k.limit_micros
                )
                if denied:
                    return ReserveOutcome(False, denied, tuple(states))
                conn.executemany(
                    "INSERT OR IGNORE INTO budget_reservations"
                    " (reservation_id, key_id, amount, expires_at) VALUES (?, ?, ?, ?)",
                    [(reservation_id, k.id, amount, now + ttl_s) for k in keys],
                )
                after = tuple(
                    s if k.id in held else CounterState(s.spent, s.reserved + amount)
                    for k, s in zip(keys, states, strict=True)
                )
                return ReserveOutcome(True, (), after)
        except sqlite3.Error as exc:
            raise BudgetStoreUnavailable(f"budget store {self.path}: {exc}") from exc

    def settle(
        self, reservation_id: str, keys: Sequence[BudgetKey], actual: int, *, guarded: bool = False
    ) -> list[int]:
        try:
            with self._db.write() as conn:
                _check(conn, guarded, self.path)
                out = []
                for k in keys:
                    conn.execute(
                        "DELETE FROM budget_reservations WHERE key_id = ? AND reservation_id = ?",
                        (k.id, reservation_id),
                    )
                    row = conn.execute(
                        "INSERT INTO budget_counters (key_id, spent) VALUES (?, ?)"
                        " ON CONFLICT (key_id) DO UPDATE SET spent = spent + excluded.spent"
                        " RETURNING spent",
                        (k.id, actual),
                    ).fetchone()
                    out.append(int(row[0]))
                return out
        except sqlite3.Error as exc:
            raise BudgetStoreUnavailable(f"budget store {self.path}: {exc}") from exc

    def release(self, reservation_id: str, keys: Sequence[BudgetKey]) -> None:
        try:
            with self._db.write() as conn:
                conn.executemany(
                    "DELETE FROM budget_reservations WHERE key_id = ? AND reservation_id = ?",
                    [(k.id, reservation_id) for k in keys],
                )
        except sqlite3.Error as exc:
            raise BudgetStoreUnavailable(f"budget store {self.path}: {exc}") from exc

    def snapshot(self, keys: Sequence[BudgetKey], *, now: float | None = None) -> list[BudgetState]:
        at = time.time() if now is None else now
        try:
            conn = self._db.connection()
            with self._db.read(conn):
                return [BudgetState.of(k, _state(conn, k.id, at)) for k in keys]
        except sqlite3.Error as exc:
            raise BudgetStoreUnavailable(f"budget store {self.path}: {exc}") from exc

    def seed(self, key: BudgetKey, spent: int) -> bool:
        try:
            with self._db.write() as conn:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO budget_counters (key_id, spent) VALUES (?, ?)",
                    (key.id, spent),
                )
                return cur.rowcount == 1
        except sqlite3.Error as exc:
            raise BudgetStoreUnavailable(f"budget store {self.path}: {exc}") from exc

    def seed_all(self, counters: Sequence[tuple[BudgetKey, int]]) -> bool:
        try:
            with self._db.write() as conn:
                if conn.execute("SELECT 1 FROM budget_meta WHERE name = 'seeded'").fetchone():
                    return False
                conn.executemany(
                    "INSERT INTO budget_counters (key_id, spent) VALUES (?, ?)"
                    " ON CONFLICT (key_id) DO UPDATE SET spent = MAX(spent, excluded.spent)",
                    [(k.id, spent) for k, spent in counters],
                )
                conn.execute(
                    "INSERT INTO budget_meta (name, value) VALUES ('seeded', ?)", (str(time.time()),)
                )
                return True
        except sqlite3.Error as exc:
            raise BudgetStoreUnavailable(f"budget store {self.path}: {exc}") from exc

    def claim_alert(self, key: BudgetKey, threshold: float, *, refused: bool = False) -> bool:
        try:
            with self._db.write() as conn:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO budget_alerts (alert_id, created_at) VALUES (?, ?)",
                    (alert_id(key, threshold, refused=refused), time.time()),
                )
                return cur.rowcount == 1
        except sqlite3.Error as exc:
            raise BudgetStoreUnavailable(f"budget store {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()
