"""Counters that survive their store, and settlements that survive a store outage.

*Seeding.* A budget store that was wiped (Redis restarted without persistence, a new SQLite
file) has no record of what was spent. A store used by :class:`~costroute.spend.Budgets` that
has a ledger is *guarded*: its reserve and settle operations check, atomically with the
operation, a store-side "seeded" marker that vanishes with the data (a Redis key, a row of the
SQLite file). Without it they raise :class:`StoreUnseeded` and change nothing; the budgets then
sum the current periods from the ledger and hand the sums to ``seed_all``, which, atomically and
only while the marker is still missing, writes every counter and sets the marker. Many processes
may race: exactly one seeds, the others see the marker and retry their operation.

A settle never lands on an unseeded store, so a request's spend is counted either by the seed
(its record was in the ledger when the seed read it) or by its own settle, which happens before
its record is written: never twice. What a wipe loses is only the spend of requests settled
before the wipe whose records were not yet written when the seed read the ledger (the few
microseconds between a settle and its record).

*Pending settlements.* A settle that fails because the store is unreachable (the provider has
answered; the money is spent) is kept in a bounded in-process queue and applied, in order,
before the next reservation of this process; until then every new reservation fails closed with
:class:`~costroute.BudgetStoreUnavailable`. The hold stays on the store meanwhile (it is counted
as reserved until the settle lands or its TTL expires). If the store comes back wiped, the
seed counts the pending requests whose records it found in the ledger and they are dropped from
the queue. The queue lives in memory: if the process exits during the outage, its pending
spend is recovered only by a later seed from the ledger.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from .._errors import BudgetStoreUnavailable
from ._config import BudgetConfig
from ._keys import BudgetKey, budget_keys, period_bounds, scope_key
from ._money import to_micros
from ._records import SpendRecord

__all__ = ["PendingSettle", "PendingSettles", "StoreUnseeded", "counter_sums", "seed_windows"]

logger = logging.getLogger("costroute.spend")


class StoreUnseeded(BudgetStoreUnavailable):
    """A guarded operation found no "seeded" marker: the store must be seeded from the ledger
    first. Nothing was changed. (Handled inside :class:`~costroute.spend.Budgets`.)"""


def seed_windows(
    budgets: Sequence[BudgetConfig], at: datetime
) -> list[tuple[BudgetConfig, datetime, datetime | None]]:
    """The current period ``[start, end)`` of each budget at ``at``."""
    return [(b, *period_bounds(b.period, at, b.timezone)) for b in budgets]


def counter_sums(
    budget: BudgetConfig, records: Iterable[SpendRecord], at: datetime
) -> dict[BudgetKey, int]:
    """Micro-dollars per current counter of ``budget``, summed from ``records`` (its period's),
    each record rounded as its settle is."""
    sums: dict[BudgetKey, int] = {}
    for rec in records:
        if scope_key(budget.scope, tags=rec.tags, policy=rec.policy, model=rec.model) is None:
            continue
        (key,) = budget_keys([budget], tags=rec.tags, policy=rec.policy, model=rec.model, now=at)
        sums[key] = sums.get(key, 0) + to_micros(rec.cost_usd)
    return sums


@dataclass(frozen=True, slots=True)
class PendingSettle:
    """A settle the store could not take: applied when it is back."""

    reservation_id: str
    request_id: str
    keys: tuple[BudgetKey, ...]
    micros: int


class PendingSettles:
    """A bounded FIFO of settles waiting for the store, safe across threads."""

    def __init__(self, limit: int = 10_000) -> None:
        if limit < 1:
            raise ValueError("the pending-settlement limit must be at least 1")
        self.limit = limit
        self._items: deque[PendingSettle] = deque()
        self._lock = threading.Lock()
        self.flush_lock = threading.Lock()  # one flusher at a time (sync side)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: PendingSettle) -> bool:
        """Queue ``item``; False (and nothing queued) when the queue is full."""
        with self._lock:
            if len(self._items) >= self.limit:
                return False
            self._items.append(item)
            return True

    def pop(self) -> PendingSettle | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    def push_back(self, item: PendingSettle) -> None:
        """Return ``item`` to the head after a failed attempt."""
        with self._lock:
            self._items.appendleft(item)

    def drop_requests(self, request_ids: set[str]) -> int:
        """Drop the items of requests a seed has counted; returns how many."""
        with self._lock:
            kept = deque(p for p in self._items if p.request_id not in request_ids)
            dropped = len(self._items) - len(kept)
            self._items = kept
            return dropped

    def total(self) -> int:
        with self._lock:
            return sum(p.micros for p in self._items)
