"""The budget store interface and its in-memory implementation.

A store keeps, per counter (:class:`BudgetKey`), the micro-dollars *spent* and the live
*reservations* (id → amount, expiry). Every operation is atomic across all the keys it is given:
``reserve`` succeeds on every key or changes nothing. Expired reservations are swept inside
``reserve`` and ``snapshot``. Stores hold integers only; dollars live in :mod:`._budgets`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from ._keys import BudgetKey
from ._money import from_micros
from ._seeding import StoreUnseeded

__all__ = [
    "BudgetState",
    "BudgetStore",
    "CounterState",
    "LocalBudgetStore",
    "MemoryBudgetStore",
    "ReserveOutcome",
    "alert_id",
]


@dataclass(frozen=True, slots=True)
class CounterState:
    """Micro-dollars spent and reserved on one counter."""

    spent: int
    reserved: int


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    """The result of a reservation: ``denied`` holds the indexes of the keys that refused it."""

    ok: bool
    denied: tuple[int, ...]
    states: tuple[CounterState, ...]  # per key, after the reservation (or as found on refusal)


@dataclass(frozen=True, slots=True)
class BudgetState:
    """What the CLI shows for one counter. Money in dollars."""

    budget: str
    scope_key: str
    limit: Decimal
    spent: Decimal
    reserved: Decimal
    remaining: Decimal
    resets_at: datetime | None
    action: str = "block"

    @classmethod
    def of(cls, key: BudgetKey, state: CounterState) -> BudgetState:
        remaining = max(0, key.limit_micros - state.spent - state.reserved)
        return cls(
            budget=key.budget,
            scope_key=key.scope_key,
            limit=from_micros(key.limit_micros),
            spent=from_micros(state.spent),
            reserved=from_micros(state.reserved),
            remaining=from_micros(remaining),
            resets_at=key.period_end,
            action=key.action,
        )


def alert_id(key: BudgetKey, threshold: float, *, refused: bool = False) -> str:
    """The once-only identity of an alert: counter id plus threshold (a refusal's apart)."""
    return f"{key.id}|{threshold:g}" + ("|refused" if refused else "")


@runtime_checkable
class BudgetStore(Protocol):
    """Atomic budget counters in integer micro-dollars. Implementations: memory, SQLite, Redis.

    ``now`` is seconds since the epoch (the :class:`Budgets` clock), used for reservation expiry.
    The async twins exist so a network store need not block the event loop; local stores
    implement them by calling the synchronous operation.
    """

    def reserve(
        self, reservation_id: str, keys: Sequence[BudgetKey], amount: int, *, now: float,
        ttl_s: float, guarded: bool = False,
    ) -> ReserveOutcome:
        """Reserve ``amount`` on every key if ``spent + reserved + amount <= limit`` on each
        enforced key; otherwise change nothing. Reserving an id twice is a no-op. ``guarded``:
        raise :class:`~costroute.spend._seeding.StoreUnseeded` (changing nothing) when the store
        has not been seeded since it was created or wiped."""
        ...

    def settle(
        self, reservation_id: str, keys: Sequence[BudgetKey], actual: int, *, guarded: bool = False
    ) -> list[int]:
        """Drop the reservation (if still live) and add ``actual`` to spent; returns spent per key.
        ``guarded`` as for :meth:`reserve`."""
        ...

    def release(self, reservation_id: str, keys: Sequence[BudgetKey]) -> None:
        """Drop the reservation if still live. Idempotent."""
        ...

    def snapshot(self, keys: Sequence[BudgetKey], *, now: float | None = None) -> list[BudgetState]:
        """The state of each counter (expired reservations excluded)."""
        ...

    def seed(self, key: BudgetKey, spent: int) -> bool:
        """Set the counter's spent to ``spent`` only if it has never been written; True if set."""
        ...

    def seed_all(self, counters: Sequence[tuple[BudgetKey, int]]) -> bool:
        """If the store's "seeded" marker is missing: raise each counter's spent to at least the
        given amount, then set the marker, atomically; True if this call seeded. A no-op (False)
        once seeded."""
        ...

    def claim_alert(self, key: BudgetKey, threshold: float, *, refused: bool = False) -> bool:
        """True exactly once per (counter, threshold, refused), across every process using the store."""
        ...

    async def areserve(
        self, reservation_id: str, keys: Sequence[BudgetKey], amount: int, *, now: float,
        ttl_s: float, guarded: bool = False,
    ) -> ReserveOutcome: ...

    async def asettle(
        self, reservation_id: str, keys: Sequence[BudgetKey], actual: int, *, guarded: bool = False
    ) -> list[int]: ...

    async def aseed_all(self, counters: Sequence[tuple[BudgetKey, int]]) -> bool: ...

    async def arelease(self, reservation_id: str, keys: Sequence[BudgetKey]) -> None: ...

    async def aclaim_alert(self, key: BudgetKey, threshold: float, *, refused: bool = False) -> bool: ...

    def close(self) -> None: ...


@dataclass
class _Counter:
    spent: int = 0
    written: bool = False
    reserved: int = 0
    reservations: dict[str, tuple[int, float]] = field(default_factory=dict)

    def hold(self, rid: str, amount: int, expires_at: float) -> None:
        if rid not in self.reservations:
            self.reservations[rid] = (amount, expires_at)
            self.reserved += amount

    def drop(self, rid: str) -> None:
        held = self.reservations.pop(rid, None)
        if held is not None:
            self.reserved -= held[0]

    def sweep(self, now: float) -> None:
        for rid in [rid for rid, (_, exp) in self.reservations.items() if exp <= now]:
            self.drop(rid)


class LocalBudgetStore:
    """Base of the stores whose operations are fast local calls (memory, SQLite): the async
    twins call the synchronous operations directly, with no thread hand-off."""

    def reserve(
        self, reservation_id: str, keys: Sequence[BudgetKey], amount: int, *, now: float,
        ttl_s: float, guarded: bool = False,
    ) -> ReserveOutcome:
        raise NotImplementedError

    def settle(
        self, reservation_id: str, keys: Sequence[BudgetKey], actual: int, *, guarded: bool = False
    ) -> list[int]:
        raise NotImplementedError

    def seed_all(self, counters: Sequence[tuple[BudgetKey, int]]) -> bool:
        raise NotImplementedError

    def release(self, reservation_id: str, keys: Sequence[BudgetKey]) -> None:
        raise NotImplementedError

    def claim_alert(self, key: BudgetKey, threshold: float, *, refused: bool = False) -> bool:
        raise NotImplementedError

    async def areserve(
        self, reservation_id: str, keys: Sequence[BudgetKey], amount: int, *, now: float,
        ttl_s: float, guarded: bool = False,
    ) -> ReserveOutcome:
        return self.reserve(reservation_id, keys, amount, now=now, ttl_s=ttl_s, guarded=guarded)

    async def asettle(
        self, reservation_id: str, keys: Sequence[BudgetKey], actual: int, *, guarded: bool = False
    ) -> list[int]:
        return self.settle(reservation_id, keys, actual, guarded=guarded)

    async def aseed_all(self, counters: Sequence[tuple[BudgetKey, int]]) -> bool:
        return self.seed_all(counters)

    async def arelease(self, reservation_id: str, keys: Sequence[BudgetKey]) -> None:
        self.release(reservation_id, keys)

    async def aclaim_alert(self, key: BudgetKey, threshold: float, *, refused: bool = False) -> bool:
        return self.claim_alert(key, threshold, refused=refused)


class MemoryBudgetStore(LocalBudgetStore):
    """Counters in a dict behind a lock: one process, many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, _Counter] = {}
        self._alerts: set[str] = set()
        self._seeded = False

    def __repr__(self) -> str:
        return "MemoryBudgetStore()"

    def _check(self, guarded: bool) -> None:
        if guarded and not self._seeded:
            raise StoreUnseeded("the memory budget store has not been seeded from the ledger")

    def _get(self, key: BudgetKey) -> _Counter:
        return self._counters.setdefault(key.id, _Counter())

    def reserve(
        self, reservation_id: str, keys: Sequence[BudgetKey], amount: int, *, now: float,
        ttl_s: float, guarded: bool = False,
    ) -> ReserveOutcome:
        with self._lock:
            self._check(guarded)
            counters = [self._get(k) for k in keys]
            for c in counters:
                c.sweep(now)
            denied = tuple(
                i for i, (k, c) in enumerate(zip(keys, counters, strict=True))
                if k.enforced and reservation_id not in c.reservations
                and c.spent + c.reserved + amount > k.limit_micros
            )
            if not denied:
                for c in counters:
                    c.hold(reservation_id, amount, now + ttl_s)
            states = tuple(CounterState(c.spent, c.reserved) for c in counters)
            return ReserveOutcome(not denied, denied, states)

    def settle(
        self, reservation_id: str, keys: Sequence[BudgetKey], actual: int, *, guarded: bool = False
    ) -> list[int]:
        with self._lock:
            self._check(guarded)
            out = []
            for k in keys:
                c = self._get(k)
                c.drop(reservation_id)
                c.spent += actual
                c.written = True
                out.append(c.spent)
            return out

    def release(self, reservation_id: str, keys: Sequence[BudgetKey]) -> None:
        with self._lock:
            for k in keys:
                c = self._counters.get(k.id)
                if c is not None:
                    c.drop(reservation_id)

    def snapshot(self, keys: Sequence[BudgetKey], *, now: float | None = None) -> list[BudgetState]:
        at = time.time() if now is None else now
        with self._lock:
            out = []
            for k in keys:
                c = self._counters.get(k.id, _Counter())
                live = sum(amount for amount, exp in c.reservations.values() if exp > at)
                out.append(BudgetState.of(k, CounterState(c.spent, live)))
            return out

    def seed(self, key: BudgetKey, spent: int) -> bool:
        with self._lock:
            c = self._get(key)
            if c.written:
                return False
            c.spent, c.written = spent, True
            return True

    def seed_all(self, counters: Sequence[tuple[BudgetKey, int]]) -> bool:
        with self._lock:
            if self._seeded:
                return False
            for key, spent in counters:
                c = self._get(key)
                c.spent, c.written = max(c.spent, spent), True
            self._seeded = True
            return True

    def claim_alert(self, key: BudgetKey, threshold: float, *, refused: bool = False) -> bool:
        with self._lock:
            ident = alert_id(key, threshold, refused=refused)
            if ident in self._alerts:
                return False
            self._alerts.add(ident)
            return True

    def close(self) -> None:
        """Nothing to close."""
