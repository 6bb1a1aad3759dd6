"""The life of one request, written once.

A request is a generator that *decides* and yields *effects*; a driver performs each effect and
sends its result back in (or throws its exception in). Nothing here does I/O or waits::

    plan → cache lookup → single-flight → ledger ready → reserve → attempt → retry / fallback /
    downgrade → settle → record → store

``Client`` and ``AsyncClient`` are two drivers of a few dozen lines each (:mod:`costroute._drivers`);
reading a live stream (:func:`read_stream`) is part of the same loop, each chunk pulled from the
provider and handed to the caller as an effect; an HTTP server or a batch poller is one more
driver, not another copy of this file.
tenacity decides retries (:meth:`tenacity.BaseRetrying.iter` as a pure decision step, its
``DoSleep`` turned into a :class:`Sleep` effect), as in tenacity's own sync and async loops.

Money rules kept here, whatever fails:

* nothing is sent unless the ledger can take its record (:class:`Ready`) and its worst case is
  reserved (:class:`Reserve`); a reservation is an upper bound (``n`` answers, media parts);
* an attempt that may have been billed (a timeout, a cancellation, an unreadable answer) is booked
  as ``estimated`` and settled, never $0, and the next attempt reserves again;
* an answer that costs more than its reservation first reserves the difference; when a ``block``
  budget has no room for it the answer is not delivered (:class:`~costroute.BudgetExceeded`) but
  it is booked, settled and, when cacheable, stored, so it is never paid for twice.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from tenacity import DoAttempt, DoSleep, RetryCallState

from ._caching import CacheCall, store_args
from ._engine import Engine, Plan
from ._errors import BudgetExceeded, BudgetStoreUnavailable, ProviderError
from ._retry import AttemptRun
from ._streams import ReplayStream, StreamState
from ._types import RouteInfo
from .cache import CacheEntry, StreamAccumulator, replay_chunks
from .providers import ProviderCall, chunk_from_dict
from .spend import Reservation, SpendRecord
from .spend._money import round_micros

__all__ = [
    "END", "Emit", "Flight", "Hangup", "Land", "Lookup", "Opened", "Pull", "Ready", "Record", "Release",
    "Reserve", "Send", "Settle", "Sleep", "Store", "StreamClosed", "read_stream", "request",
]

T = TypeVar("T")
Steps = Generator[Any, Any, T]  # yields effects, receives their results, returns T


# -- the effects ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Lookup:
    """Look the request up in the response cache: a usable ``CacheEntry`` or ``None``."""

    cached: CacheCall


@dataclass(frozen=True, slots=True)
class Flight:
    """Take the single-flight lock of the request's cache key: a token for :class:`Land`."""

    cached: CacheCall

    @property
    def key(self) -> str:
        assert self.cached.key is not None  # a request with no key is never stored
        return self.cached.key


@dataclass(frozen=True, slots=True)
class Land:
    """Give the single-flight lock back."""

    cached: CacheCall
    token: Any

    @property
    def key(self) -> str:
        assert self.cached.key is not None
        return self.cached.key


@dataclass(frozen=True, slots=True)
class Ready:
    """Make sure the ledger can take a record now (raises ``LedgerUnavailable``)."""


@dataclass(frozen=True, slots=True)
class Reserve:
    """Hold money on the budgets (the client's, or ``budgets``): a ``Reservation`` (raises
    ``BudgetExceeded``)."""

    args: dict[str, Any]
    budgets: Any = None


@dataclass(frozen=True, slots=True)
class Send:
    """Call the provider: its response, or for a stream an iterator already holding its first chunk."""

    call: ProviderCall
    stream: bool


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait before the next attempt."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Settle:
    """Count ``amount`` as spent on the reservation's counters and drop its hold."""

    hold: Reservation
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Release:
    """Drop a hold unspent (a no-op once settled)."""

    hold: Reservation


@dataclass(frozen=True, slots=True)
class Store:
    """Keep a complete answer in the response cache."""

    cached: CacheCall
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Pull:
    """The next chunk of a live stream from the provider, or :data:`END`."""

    chunks: Any


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand a chunk to the caller; the loop resumes when the caller asks for the next one (or
    throws :class:`StreamClosed` in when the caller stops reading)."""

    chunk: Any


@dataclass(frozen=True, slots=True)
class Hangup:
    """Close the provider's stream (its connection goes back or is dropped)."""

    chunks: Any


class StreamClosed(Exception):
    """Thrown into a stream's steps when the caller closed or dropped the stream."""


#: What :class:`Pull` returns once the provider's stream has ended.
END: Any = object()


@dataclass(frozen=True, slots=True)
class Record:
    """Append a spend record to the ledger (spooled if the ledger fails); ``info`` is set on the
    record that ends the request."""

    record: SpendRecord
    info: RouteInfo | None = None


@dataclass(slots=True)
class Opened:
    """A successful attempt: the model that answered, its response (or opened stream), and the
    hold that is still to be settled."""

    plan: Plan = field(repr=False)
    model: str
    response: Any
    attempt: int
    started: float
    hold: Reservation | None
    tier: str = "default"  # the service tier the successful attempt asked for
    cached: CacheCall | None = None


# -- a request ------------------------------------------------------------------------------------

def request(engine: Engine, plan: Plan, cached: CacheCall | None) -> Steps[Any]:
    """A ``create(...)`` call from its plan to its answer: a response, a replayed stream, or (for
    a live stream) the :class:`Opened` attempt a driver wraps into its stream object."""
    if cached is not None and cached.lookup_first:
        entry = yield Lookup(cached)
        if entry is not None:
            return (yield from _hit(engine, plan, entry))
    token = None
    if cached is not None and cached.storable and not plan.stream:
        token = yield Flight(cached)  # identical concurrent misses wait here for the first
    try:
        if token is not None and cached is not None and cached.lookup_first:
            entry = yield Lookup(cached)
            if entry is not None:  # filled while we waited
                return (yield from _hit(engine, plan, entry))
        if plan.policy.cascade is not None and not plan.decision.pinned:
            from ._cascade_loop import cascade

            return (yield from cascade(engine, plan, cached))
        opened = yield from _attempts(engine, plan)
        opened.cached = cached
        if plan.stream:
            return opened
        return (yield from _answered(engine, plan, opened, cached))
    finally:
        if token is not None and cached is not None:
            yield Land(cached, token)


def _hit(engine: Engine, plan: Plan, entry: CacheEntry) -> Steps[Any]:
    info, record = engine.served_from_cache(plan, entry)
    yield Record(record, info)
    if plan.stream:
        return ReplayStream([chunk_from_dict(c) for c in replay_chunks(entry)], info)
    response = engine.cached_answer(entry)
    object.__setattr__(response, "costroute", info)
    return response


def _answered(engine: Engine, plan: Plan, opened: Opened, cached: CacheCall | None) -> Steps[Any]:
    response = opened.response
    try:
        info, record = engine.finish(plan, opened.model, opened.attempt, getattr(response, "usage", None),
                                     opened.started, response=response, tier=opened.tier)
        refused = yield from _settle(engine, plan, opened.model, opened.hold, info.cost_usd)
    except BaseException:
        if opened.hold is not None:
            yield Release(opened.hold)
        raise
    yield Record(record, info)
    object.__setattr__(response, "costroute", info)
    if cached is not None and cached.storable:
        yield Store(cached, store_args(engine, cached, info, response=response))
    if refused is not None:
        raise refused
    return response


def _settle(engine: Engine, plan: Plan, model: str, hold: Reservation | None,
            cost: Decimal) -> Steps[BudgetExceeded | None]:
    """Settle ``cost`` on ``hold``. Beyond what was reserved, the difference is reserved first;
    a ``block`` budget with no room for it refuses the answer's delivery (returned, to raise once
    the answer is booked)."""
    if hold is None:
        return None
    refused: BudgetExceeded | None = None
    # in whole micro-dollars, as the record books it, so the two parts add up to the record exactly
    cost, held = round_micros(cost), round_micros(hold.amount)
    over = cost - held
    if over > 0:
        try:
            extra = yield Reserve(engine.reservation_args(plan, model, amount=over))
        except BudgetExceeded as exc:
            refused = exc if exc.action == "block" else None
        except BudgetStoreUnavailable:
            pass  # the settle below is deferred to the store's return like any other
        else:
            yield Settle(extra, over)
            cost = held
    yield Settle(hold, cost)
    if refused is not None:
        refused.args = (f"the answer cost ${cost} and the budget has no room for the "
                        f"${over} beyond its reservation; it was billed and booked, not delivered: "
                        f"{refused}",)
    return refused


def _attempts(engine: Engine, plan: Plan) -> Steps[Opened]:
    """Reserve, call and retry the plan's models in turn; the first success, its hold unsettled."""
    run = AttemptRun(plan.order, plan.policy.config.retry, lambda m, tried: engine.downgrades(plan, m, tried))
    yield Ready()  # nothing is sent that could not be recorded
    while (model := run.next_model()) is not None:
        slot = _Slot(tier=engine.tier_for(plan, model))
        try:
            if engine.budgets is not None:
                slot.hold = yield Reserve(engine.reservation_args(plan, model, tier=slot.tier))
            response, started = yield from _tries(engine, plan, run, model, slot)
        except BudgetExceeded as exc:
            yield from _give_back(slot)
            run.refused(model, exc)
            continue
        except ProviderError as exc:
            yield from _give_back(slot)
            run.failed(exc)
            continue
        except BaseException:
            yield from _give_back(slot)
            raise
        return Opened(plan, model, response, run.count, started, slot.hold, slot.tier)
    raise run.exhausted()


@dataclass(slots=True)
class _Slot:
    """One model's attempts: the hold they may spend and the service tier they ask for. A
    ``shared`` slot (a cascade's call) reserves nothing itself: what its failed attempts may have
    been billed adds up in ``billed``, settled with the cascade's holds."""

    hold: Reservation | None = None
    tier: str = "default"
    shared: bool = False
    billed: Decimal = Decimal(0)


def _give_back(slot: _Slot) -> Steps[None]:
    if slot.hold is not None:
        yield Release(slot.hold)
        slot.hold = None


def _tries(engine: Engine, plan: Plan, run: AttemptRun, model: str, slot: _Slot) -> Steps[tuple[Any, float]]:
    """One model's attempts, as tenacity decides them. A flex refusal asks again at once at the
    default tier (its price reserved first), unless the policy waits for flex."""
    retrying = run.retrying()
    retrying.begin()
    state = RetryCallState(retrying, None, (), {})
    refused_flex = False
    while True:
        do = retrying.iter(state)  # raises the last error once it gives up
        if isinstance(do, DoSleep):
            state.prepare_for_next_attempt()
            if not refused_flex:
                yield Sleep(float(do))
            continue
        assert isinstance(do, DoAttempt)
        if slot.hold is None and engine.budgets is not None and not slot.shared:  # the last hold was spent
            slot.hold = yield Reserve(engine.reservation_args(plan, model, tier=slot.tier))
        started = run.begin()
        try:
            response = yield Send(engine.call_for(plan, model, slot.tier), plan.stream)
        except BaseException as exc:
            record, billed = engine.failed(plan, model, run.count, exc, started, slot.tier)
            slot.billed += billed
            if billed and slot.hold is not None:
                hold, slot.hold = slot.hold, None
                yield Settle(hold, billed)
            yield Record(record)
            if not isinstance(exc, Exception):
                raise  # cancelled or interrupted: booked, and no further attempt
            refused_flex = (slot.tier == "flex" and plan.policy.config.on_flex_refusal == "default"
                            and engine.flex_refused(plan, model, exc))
            if refused_flex:
                slot.tier = "default"
                if slot.hold is not None:  # the default tier costs more: reserve its price instead
                    hold, slot.hold = slot.hold, None
                    yield Release(hold)
            state.set_exception((type(exc), exc, exc.__traceback__))
            continue
        return response, started


# -- a live stream ---------------------------------------------------------------------------------

def read_stream(engine: Engine, opened: Opened) -> Steps[RouteInfo]:
    """Read a live stream chunk by chunk for the caller, then book it (at its end, on close, on an
    error or when it is dropped): priced from the provider's usage if it arrived, else estimated;
    stored in the cache only when complete with the provider's own usage."""
    state = StreamState()
    acc = opened.cached.accumulator() if opened.cached is not None else None
    ended, error = False, None
    try:
        while (chunk := (yield Pull(opened.response))) is not END:
            state.add(chunk)
            if acc is not None:
                acc.feed(chunk)
            yield Emit(chunk)
        ended = True
    except GeneratorExit:
        raise  # closed from outside its driver (interpreter shutdown): nothing more can run
    except BaseException as exc:  # the caller hung up (StreamClosed), the provider broke off, ...
        error = exc
    try:
        yield Hangup(opened.response)
    finally:
        info = yield from _book_stream(engine, opened, state, acc, ended=ended, error=error)
    if error is not None and not isinstance(error, StreamClosed):
        raise error
    return info


def _book_stream(engine: Engine, opened: Opened, state: StreamState, acc: StreamAccumulator | None,
                 *, ended: bool, error: BaseException | None) -> Steps[RouteInfo]:
    plan, hold = opened.plan, opened.hold
    try:
        info, record = state.settle(engine, plan, opened.model, opened.attempt, opened.started, tier=opened.tier,
                                    ended=ended, error=None if isinstance(error, StreamClosed) else error)
        yield from _settle(engine, plan, opened.model, hold, info.cost_usd)  # delivered already
    except BaseException:
        if hold is not None:
            yield Release(hold)
        raise
    yield Record(record, info)
    cached = opened.cached
    if cached is not None and cached.storable and acc is not None and acc.complete and not info.estimated:
        yield Store(cached, store_args(engine, cached, info, response=acc.response() or {}))
    return info
