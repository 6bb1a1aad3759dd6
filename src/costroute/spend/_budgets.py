"""Budgets: reserve an estimate before a call, settle the actual cost after, release otherwise.

The decisions (which counters, whether a refusal blocks or downgrades, which alerts are due) are
pure functions below; :class:`Budgets` and its async twins only move data to and from the store.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from .._errors import BudgetExceeded, BudgetStoreUnavailable, CostrouteError
from ._config import BudgetConfig
from ._keys import BudgetKey, budget_keys
from ._money import from_micros, to_micros, to_micros_ceil
from ._seeding import PendingSettle, PendingSettles, StoreUnseeded, counter_sums, seed_windows
from ._store import BudgetState, BudgetStore, ReserveOutcome, alert_id

if TYPE_CHECKING:
    from ._ledger import Ledger

__all__ = ["AlertEvent", "Budgets", "Reservation", "refusal"]

logger = logging.getLogger("costroute.spend")

Clock = Callable[[], datetime]
ReservationState = Literal["held", "settled", "released"]


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A budget counter reached ``threshold`` × its limit (fired once per counter and threshold)."""

    budget: str
    scope_key: str
    threshold: float
    spent: Decimal
    limit: Decimal
    period_start: datetime
    period_end: datetime | None
    refused: bool = False  # reached by a refused request rather than by settled spend


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def refusal(keys: Sequence[BudgetKey], outcome: ReserveOutcome, amount: int) -> BudgetExceeded:
    """The error for a refused reservation: ``block`` wins over ``downgrade`` when both refuse."""
    denied = [keys[i] for i in outcome.denied]
    key = next((k for k in denied if k.action == "block"), denied[0])
    state = outcome.states[keys.index(key)]
    resets = "never" if key.period_end is None else key.period_end.isoformat()
    return BudgetExceeded(
        f"budget {key.budget!r} ({key.scope_key}) would be exceeded: spent "
        f"${from_micros(state.spent)} + reserved ${from_micros(state.reserved)} + this request "
        f"${from_micros(amount)} > limit ${from_micros(key.limit_micros)} (resets {resets})",
        budget=key.budget, scope_key=key.scope_key, action=key.action,
    )


def due_alerts(
    key: BudgetKey, level: int, thresholds: Sequence[float]
) -> list[float]:
    """The thresholds a counter at ``level`` micro-dollars has reached."""
    return [t for t in thresholds if level >= math.ceil(Decimal(str(t)) * key.limit_micros)]


class Reservation:
    """Money held against every applicable budget counter until settled or released.

    As a (sync or async) context manager it releases on every exit path unless settled.
    """

    def __init__(
        self, budgets: Budgets, *, id: str, request_id: str, amount: Decimal,
        keys: tuple[BudgetKey, ...], micros: int,
    ) -> None:
        self.id = id
        self.request_id = request_id
        self.amount = amount
        self.keys = keys
        self.micros = micros
        self.state: ReservationState = "held"
        self._budgets = budgets

    def __repr__(self) -> str:
        return f"Reservation(id={self.id!r}, amount={self.amount}, state={self.state!r})"

    def settle(self, actual: Decimal) -> None:
        self._budgets.settle(self, actual)

    def release(self) -> None:
        self._budgets.release(self)

    async def asettle(self, actual: Decimal) -> None:
        await self._budgets.asettle(self, actual)

    async def arelease(self) -> None:
        await self._budgets.arelease(self)

    def __enter__(self) -> Reservation:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is None:
            self.release()
            return
        try:
            self.release()
        except CostrouteError:  # do not mask the original error; the TTL reclaims it
            logger.warning("could not release reservation %s; it will expire", self.id)

    async def __aenter__(self) -> Reservation:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is None:
            await self.arelease()
            return
        try:
            await self.arelease()
        except CostrouteError:
            logger.warning("could not release reservation %s; it will expire", self.id)


class Budgets:
    """The configured budgets over one :class:`BudgetStore`.

    ``clock`` returns the aware current time (default: UTC now); it drives periods and expiry.
    ``on_alert`` is called once per (budget, scope key, period, threshold) across processes.
    With a ``ledger``, a store found empty (new, or wiped: a Redis restart without persistence)
    is seeded from it before its first use, and again whenever it is found wiped later; a
    settle the store cannot take is kept (at most ``max_pending``) and applied when it is back
    (see :mod:`costroute.spend._seeding`).
    """

    def __init__(
        self,
        budgets: Sequence[BudgetConfig],
        store: BudgetStore,
        *,
        on_alert: Callable[[AlertEvent], None] | None = None,
        clock: Clock | None = None,
        reservation_ttl_s: float = 600.0,
        ledger: Ledger | None = None,
        max_pending: int = 10_000,
    ) -> None:
        names = [b.name for b in budgets]
        if len(set(names)) != len(names):
            raise ValueError(f"budget names must be unique: {names}")
        self.budgets = tuple(budgets)
        self.store = store
        self.reservation_ttl_s = reservation_ttl_s
        self._on_alert = on_alert
        self._clock = clock or _utcnow
        self._alerts = {b.name: tuple(b.alerts) for b in budgets}
        self._claimed: set[str] = set()
        self._lock = threading.Lock()
        self.ledger = ledger
        self._guarded = ledger is not None
        self._seed_lock = threading.Lock()
        self.pending = PendingSettles(max_pending)

    def __repr__(self) -> str:
        return f"Budgets({[b.name for b in self.budgets]}, store={self.store!r})"

    def now(self) -> datetime:
        return self._clock()

    def keys_for(
        self, *, tags: Mapping[str, str] | None = None, policy: str = "default", model: str = "",
        now: datetime | None = None,
    ) -> list[BudgetKey]:
        """The counters a request with these attributes counts against."""
        return budget_keys(
            self.budgets, tags=tags or {}, policy=policy, model=model, now=now or self._clock()
        )

    def _prepare(
        self, request_id: str, amount: Decimal, tags: Mapping[str, str] | None, policy: str,
        model: str,
    ) -> tuple[Reservation, float]:
        if amount < 0:
            raise ValueError("a reservation amount cannot be negative")
        now = self._clock()
        keys = tuple(self.keys_for(tags=tags, policy=policy, model=model, now=now))
        res = Reservation(
            self, id=f"{request_id}:{uuid.uuid4().hex[:16]}", request_id=request_id,
            amount=Decimal(amount), keys=keys, micros=to_micros_ceil(amount),
        )
        return res, now.timestamp()

    def _judge(self, res: Reservation, outcome: ReserveOutcome) -> list[AlertEvent]:
        """Raise for a refusal; log warn budgets that are over; return the alerts now due."""
        events: list[AlertEvent] = []
        for i, (key, state) in enumerate(zip(res.keys, outcome.states, strict=True)):
            if not outcome.ok and i in outcome.denied:
                events += self._due(key, state.spent, refused=True)
            elif outcome.ok and not key.enforced and state.spent + state.reserved > key.limit_micros:
                logger.warning(
                    "budget %r (%s) is over its limit: spent $%s + reserved $%s > $%s",
                    key.budget, key.scope_key, from_micros(state.spent),
                    from_micros(state.reserved), from_micros(key.limit_micros),
                )
        return events

    def _due(self, key: BudgetKey, level: int, *, refused: bool = False) -> list[AlertEvent]:
        """The alerts a counter at ``level`` (real spend) has reached. A refusal counts as reaching
        the 1.0 threshold (if configured), once per period, claimed apart from the real crossing so
        that crossing is still reported when spend gets there; it never fires the lower ones."""
        thresholds = self._alerts.get(key.budget, ())
        due = [t for t in thresholds if t >= 1.0][:1] if refused else due_alerts(key, level, thresholds)
        return [
            AlertEvent(
                budget=key.budget, scope_key=key.scope_key, threshold=t,
                spent=from_micros(level), limit=from_micros(key.limit_micros),
                period_start=key.period_start, period_end=key.period_end, refused=refused,
            )
            for t in due
            if alert_id(key, t, refused=refused) not in self._claimed
        ]

    def _fire(self, event: AlertEvent) -> None:
        if self._on_alert is None:
            return
        try:
            self._on_alert(event)
        except Exception:
            logger.exception("on_alert callback failed for budget %r", event.budget)

    def _claim_locally(self, key: BudgetKey, event: AlertEvent) -> bool:
        ident = alert_id(key, event.threshold, refused=event.refused)
        with self._lock:
            if ident in self._claimed:
                return False
            self._claimed.add(ident)
            return True

    def _key_of(self, res_keys: Sequence[BudgetKey], event: AlertEvent) -> BudgetKey:
        return next(
            k for k in res_keys if k.budget == event.budget and k.scope_key == event.scope_key
        )

    def _settled_alerts(self, res: Reservation, spent: Sequence[int]) -> list[AlertEvent]:
        events: list[AlertEvent] = []
        for key, level in zip(res.keys, spent, strict=True):
            events += self._due(key, level)
        return events

    def _check_settle(self, res: Reservation, actual: Decimal) -> int:
        if res.state == "settled":
            raise RuntimeError(f"reservation {res.id} is already settled")
        if actual < 0:
            raise ValueError("an actual cost cannot be negative")
        return to_micros(actual)

    # -- sync ----------------------------------------------------------------------------------
    def reserve(
        self, *, request_id: str, amount: Decimal, tags: Mapping[str, str] | None = None,
        policy: str = "default", model: str = "", ttl_s: float | None = None,
    ) -> Reservation:
        """Hold ``amount`` on every applicable counter, all or nothing, for ``ttl_s`` seconds
        (default: ``reservation_ttl_s``; a batch holds for its completion window).

        Raises :class:`~costroute.BudgetExceeded` (``.action`` ``block`` or ``downgrade``) when an
        enforced budget would go over, and :class:`~costroute.BudgetStoreUnavailable` when the
        store cannot be reached.
        """
        res, now = self._prepare(request_id, amount, tags, policy, model)
        if not res.keys:
            return res
        self.flush_pending()  # fail closed while settles of answered requests wait for the store
        try:
            ttl = self.reservation_ttl_s if ttl_s is None else ttl_s
            try:
                outcome = self.store.reserve(
                    res.id, res.keys, res.micros, now=now, ttl_s=ttl, guarded=self._guarded,
                )
            except StoreUnseeded:
                self._seed()
                outcome = self.store.reserve(
                    res.id, res.keys, res.micros, now=now, ttl_s=ttl, guarded=self._guarded,
                )
        except BaseException:
            with contextlib.suppress(Exception):
                self.store.release(res.id, res.keys)
            raise
        for event in self._judge(res, outcome):
            key = self._key_of(res.keys, event)
            if self._claim_locally(key, event) and self.store.claim_alert(key, event.threshold, refused=event.refused):
                self._fire(event)
        if not outcome.ok:
            res.state = "released"
            raise refusal(res.keys, outcome, res.micros)
        return res

    def held(self, *, id: str, request_id: str, amount: Decimal, keys: Sequence[BudgetKey]) -> Reservation:
        """A reservation made earlier (maybe by another process) on ``keys``, to settle or release."""
        return Reservation(self, id=id, request_id=request_id, amount=Decimal(amount), keys=tuple(keys),
                           micros=to_micros_ceil(amount))

    def settle(self, reservation: Reservation, actual: Decimal) -> None:
        """Count ``actual`` as spent (even above the estimate: spend is truth) and drop the hold."""
        micros = self._check_settle(reservation, actual)
        if not reservation.keys:
            reservation.state = "settled"
            return
        item = PendingSettle(reservation.id, reservation.request_id, reservation.keys, micros)
        try:
            if len(self.pending):
                self.flush_pending()
            spent = self._settle_one(item)
        except BudgetStoreUnavailable as exc:
            reservation.state = "settled"
            self._defer(item, exc)
            return
        reservation.state = "settled"
        if spent is None:
            return
        for event in self._settled_alerts(reservation, spent):
            key = self._key_of(reservation.keys, event)
            if self._claim_locally(key, event) and self.store.claim_alert(key, event.threshold, refused=event.refused):
                self._fire(event)

    def release(self, reservation: Reservation) -> None:
        """Drop the hold. Idempotent; a no-op after settle."""
        if reservation.state != "held":
            return
        if reservation.keys:
            self.store.release(reservation.id, reservation.keys)
        reservation.state = "released"

    # -- async ---------------------------------------------------------------------------------
    async def areserve(
        self, *, request_id: str, amount: Decimal, tags: Mapping[str, str] | None = None,
        policy: str = "default", model: str = "",
    ) -> Reservation:
        """The async twin of :meth:`reserve`."""
        res, now = self._prepare(request_id, amount, tags, policy, model)
        if not res.keys:
            return res
        await self.aflush_pending()
        try:
            try:
                outcome = await self.store.areserve(
                    res.id, res.keys, res.micros, now=now, ttl_s=self.reservation_ttl_s,
                    guarded=self._guarded,
                )
            except StoreUnseeded:
                await self._aseed()
                outcome = await self.store.areserve(
                    res.id, res.keys, res.micros, now=now, ttl_s=self.reservation_ttl_s,
                    guarded=self._guarded,
                )
        except BaseException:
            with contextlib.suppress(Exception):
                await self.store.arelease(res.id, res.keys)
            raise
        for event in self._judge(res, outcome):
            key = self._key_of(res.keys, event)
            if self._claim_locally(key, event) and await self.store.aclaim_alert(
                key, event.threshold, refused=event.refused
            ):
                self._fire(event)
        if not outcome.ok:
            res.state = "released"
            raise refusal(res.keys, outcome, res.micros)
        return res

    async def asettle(self, reservation: Reservation, actual: Decimal) -> None:
        """The async twin of :meth:`settle`."""
        micros = self._check_settle(reservation, actual)
        if not reservation.keys:
            reservation.state = "settled"
            return
        item = PendingSettle(reservation.id, reservation.request_id, reservation.keys, micros)
        try:
            if len(self.pending):
                await self.aflush_pending()
            spent = await self._asettle_one(item)
        except BudgetStoreUnavailable as exc:
            reservation.state = "settled"
            self._defer(item, exc)
            return
        reservation.state = "settled"
        if spent is None:
            return
        for event in self._settled_alerts(reservation, spent):
            key = self._key_of(reservation.keys, event)
            if self._claim_locally(key, event) and await self.store.aclaim_alert(
                key, event.threshold, refused=event.refused
            ):
                self._fire(event)

    async def arelease(self, reservation: Reservation) -> None:
        """The async twin of :meth:`release`."""
        if reservation.state != "held":
            return
        if reservation.keys:
            await self.store.arelease(reservation.id, reservation.keys)
        reservation.state = "released"

    # -- settles that wait for the store, and seeding -----------------------------------------
    def _defer(self, item: PendingSettle, exc: BudgetStoreUnavailable) -> None:
        if self.pending.add(item):
            logger.warning(
                "budget store unavailable: the settle of %s ($%s) waits for it (%d pending): %s",
                item.request_id, from_micros(item.micros), len(self.pending), exc,
            )
        else:
            logger.error(
                "budget store unavailable and %d settles already pending: the settle of %s ($%s)"
                " is dropped (its record is in the ledger; a seed would count it)",
                self.pending.limit, item.request_id, from_micros(item.micros),
            )

    def _settle_one(self, item: PendingSettle) -> list[int] | None:
        """Settle ``item``; None when a seed it had to run already counted it (from its record)."""
        try:
            return self.store.settle(item.reservation_id, item.keys, item.micros, guarded=self._guarded)
        except StoreUnseeded:
            if item.request_id in self._seed()[1]:
                return None
            return self.store.settle(item.reservation_id, item.keys, item.micros, guarded=self._guarded)

    async def _asettle_one(self, item: PendingSettle) -> list[int] | None:
        try:
            return await self.store.asettle(
                item.reservation_id, item.keys, item.micros, guarded=self._guarded
            )
        except StoreUnseeded:
            if item.request_id in (await self._aseed())[1]:
                return None
            return await self.store.asettle(
                item.reservation_id, item.keys, item.micros, guarded=self._guarded
            )

    def flush_pending(self) -> int:
        """Apply the settles that waited for the store, oldest first; returns how many. Raises
        :class:`~costroute.BudgetStoreUnavailable` (keeping the rest) while it is still away."""
        done = 0
        with self.pending.flush_lock:
            while (item := self.pending.pop()) is not None:
                try:
                    self._settle_one(item)
                except BaseException:
                    self.pending.push_back(item)
                    raise
                done += 1
        if done:
            logger.info("budget store back: %d waiting settles applied", done)
        return done

    async def aflush_pending(self) -> int:
        """The async twin of :meth:`flush_pending`."""
        done = 0
        while (item := self.pending.pop()) is not None:
            try:
                await self._asettle_one(item)
            except BaseException:
                self.pending.push_back(item)
                raise
            done += 1
        if done:
            logger.info("budget store back: %d waiting settles applied", done)
        return done

    def _seeded(self, sums: dict[BudgetKey, int], seen: set[str], done: bool) -> tuple[bool, set[str]]:
        dropped = self.pending.drop_requests(seen)
        if done:
            logger.warning(
                "budget store %r was empty: seeded %d counters from the ledger", self.store, len(sums)
            )
        if dropped:
            logger.info("%d waiting settles were counted by the seed from the ledger", dropped)
        return done, seen

    def seed(self) -> bool:
        """Seed an unseeded store (new or wiped) with the current periods' spend from the ledger,
        atomically and once across processes; True if this call seeded it."""
        return self._seed()[0]

    async def aseed(self) -> bool:
        """The async twin of :meth:`seed`."""
        return (await self._aseed())[0]

    def _seed(self) -> tuple[bool, set[str]]:
        """Seed; also returns the request ids of the records the seed counted."""
        if self.ledger is None:
            raise BudgetStoreUnavailable("the budget store is empty and there is no ledger to seed it")
        with self._seed_lock:
            at = self._clock()
            sums: dict[BudgetKey, int] = {}
            seen: set[str] = set()
            for budget, start, end in seed_windows(self.budgets, at):
                records = self.ledger.records(since=start, until=end)
                seen.update(r.request_id for r in records)
                sums.update(counter_sums(budget, records, at))
            return self._seeded(sums, seen, self.store.seed_all(list(sums.items())))

    async def _aseed(self) -> tuple[bool, set[str]]:
        if self.ledger is None:
            raise BudgetStoreUnavailable("the budget store is empty and there is no ledger to seed it")
        at = self._clock()
        sums: dict[BudgetKey, int] = {}
        seen: set[str] = set()
        for budget, start, end in seed_windows(self.budgets, at):
            records = await self.ledger.arecords(since=start, until=end)
            seen.update(r.request_id for r in records)
            sums.update(counter_sums(budget, records, at))
        return self._seeded(sums, seen, await self.store.aseed_all(list(sums.items())))

    # -- inspection and seeding ----------------------------------------------------------------
    def snapshot(self, keys: Sequence[BudgetKey] | None = None) -> list[BudgetState]:
        """The state of ``keys`` (default: the counters of a request with no tags)."""
        chosen = list(keys) if keys is not None else self.keys_for()
        return self.store.snapshot(chosen, now=self._clock().timestamp())

    async def asnapshot(self, keys: Sequence[BudgetKey] | None = None) -> list[BudgetState]:
        """The async twin of :meth:`snapshot` (a network store's own async read; a local
        store's is a fast local call)."""
        chosen = list(keys) if keys is not None else self.keys_for()
        now = self._clock().timestamp()
        read = getattr(self.store, "asnapshot", None)
        if read is not None:
            return await read(chosen, now=now)  # type: ignore[no-any-return]
        return self.store.snapshot(chosen, now=now)

    def seed_from_ledger(self, ledger: Ledger, *, now: datetime | None = None) -> int:
        """Seed each current-period counter with the ledger's spend, where the store has none.

        Safe to run from every process at start-up: seeding only writes a never-written counter.
        Returns how many counters were seeded.
        """
        at = now or self._clock()
        seeded = 0
        for budget, start, end in seed_windows(self.budgets, at):
            sums = counter_sums(budget, ledger.records(since=start, until=end), at)
            seeded += sum(self.store.seed(key, micros) for key, micros in sums.items())
        return seeded
