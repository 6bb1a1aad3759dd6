"""The two interpreters of the request loop: one that blocks, one that awaits.

Each performs the effects :mod:`costroute._loop` yields and sends their results back in, or throws
their exceptions in, until the request returns. That is all they do: every decision, every money
rule and every record is made once, in the loop. A new way of serving requests (an HTTP server, a
batch poller) is a driver too, or runs one of these.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator
from datetime import datetime, timezone
from typing import Any

from ._engine import Engine, Plan
from ._errors import CostrouteError, LedgerUnavailable
from ._loop import (
    END,
    Emit,
    Flight,
    Hangup,
    Land,
    Lookup,
    Opened,
    Pull,
    Ready,
    Record,
    Release,
    Reserve,
    Send,
    Settle,
    Sleep,
    Steps,
    Store,
    StreamClosed,
    read_stream,
)
from ._shadow_loop import Label
from ._types import RouteInfo
from .spend import SpendRecord

__all__ = ["AsyncDriver", "OnRecord", "SyncDriver"]

logger = logging.getLogger("costroute.client")

#: Called after each spend record is booked: ``(info, record)``, ``info`` set on the record that
#: ends a request (``None`` for a failed attempt that was retried).
OnRecord = Callable[[RouteInfo | None, SpendRecord], None]

_END = object()
_ARMED = object()  # what a stream's pump yields first


class _Driver:
    def __init__(self, engine: Engine, on_record: OnRecord | None) -> None:
        self.engine = engine
        self._on_record = on_record

    def _booked(self, effect: Record) -> None:
        if self._on_record is not None:
            try:
                self._on_record(effect.info, effect.record)
            except Exception:
                logger.exception("on_record callback failed for request %s", effect.record.request_id)

    @staticmethod
    def _lost(effect: Record, exc: LedgerUnavailable) -> None:
        """The ledger and its spool both failed: the request goes on (an answer may be paid for),
        the record is reported loudly."""
        record = effect.record
        logger.error("spend record of %s (attempt %d, %s, $%s) could not be booked: %s",
                     record.request_id, record.attempt, record.model, record.cost_usd, exc)


class SyncDriver(_Driver):
    """Performs effects by blocking: the sync client's interpreter."""

    def __init__(self, engine: Engine, *, sleep: Callable[[float], None],
                 on_record: OnRecord | None = None) -> None:
        super().__init__(engine, on_record)
        self._sleep = sleep
        self._do: dict[type, Callable[[Any], Any]] = {
            Lookup: lambda fx: fx.cached.lookup(),
            Flight: lambda fx: fx.cached.cache.enter_flight(fx.key),
            Land: lambda fx: fx.cached.cache.leave_flight(fx.key, fx.token),
            Ready: lambda fx: engine.ledger.ready(),
            Reserve: lambda fx: (fx.budgets or engine.budgets).reserve(**fx.args),  # type: ignore[union-attr]
            Label: lambda fx: engine.ledger.record_feedback(fx.request_id, fx.score, _now(), source="judge",
                                                            model=fx.model),
            Send: self._send,
            Sleep: lambda fx: self._sleep(fx.seconds),
            Settle: lambda fx: fx.hold.settle(fx.amount),
            Release: lambda fx: fx.hold.release(),
            Store: lambda fx: fx.cached.cache.store(fx.cached.request, **fx.args),
            Record: self._record,
            Pull: lambda fx: next(fx.chunks, END),
            Hangup: lambda fx: _close(fx.chunks),
        }

    def run(self, steps: Steps[Any], plan: Plan) -> Any:
        """Drive a request's ``steps`` to their end; errors leave carrying its ``request_id``."""
        result: list[Any] = []
        for _ in self._drive(steps, plan, result.append):
            raise AssertionError("a request's steps hand no chunk out")
        return result[0]

    def pump(self, opened: Opened, ended: Callable[[RouteInfo], None]) -> Generator[Any, None, None]:
        """The caller's side of a live stream: its chunks come out, every other effect of
        :func:`~costroute._loop.read_stream` is performed here. Yields a marker first (arm it with
        ``next``): from then on closing or dropping the iterator books the stream."""
        return self._drive(read_stream(self.engine, opened), opened.plan, ended, armed=True)

    def _drive(self, steps: Steps[Any], plan: Plan, ended: Callable[[Any], None], *,
               armed: bool = False) -> Generator[Any, None, None]:
        """Perform the effects of ``steps`` until they end (then ``ended(result)``), yielding the
        chunks they hand out. Errors leave carrying the plan's ``request_id``."""
        finished, effect = _advance(steps, None, None, plan)  # inside read_stream's try from here on
        closed = hangup = False
        if armed:
            try:
                yield _ARMED
            except GeneratorExit:
                closed = hangup = True
        while not finished:
            value: Any = None
            error: BaseException | None = None
            if hangup or (closed and type(effect) is Emit):
                error, hangup = StreamClosed(), False  # told where the stream waits, then booked
            elif type(effect) is Emit:
                try:
                    yield effect.chunk
                except GeneratorExit:  # the caller closed or dropped the stream: book it, yield no more
                    closed, error = True, StreamClosed()
            else:
                try:
                    value = self._do[type(effect)](effect)
                except BaseException as exc:
                    error = exc
            finished, effect = _advance(steps, value, error, plan)
        ended(effect)

    def _send(self, effect: Send) -> Any:
        completer = self.engine.completer
        if not effect.stream:
            return completer.complete(effect.call)
        chunks = iter(completer.stream(effect.call))
        return _prepend(next(chunks, _END), chunks)  # the first chunk proves the stream opened

    def _record(self, effect: Record) -> None:
        try:
            self.engine.ledger.append(effect.record)
        except LedgerUnavailable as exc:
            self._lost(effect, exc)
        self._booked(effect)


class AsyncDriver(_Driver):
    """Performs effects by awaiting: the async client's interpreter. Never blocks its loop."""

    def __init__(self, engine: Engine, *, sleep: Callable[[float], Awaitable[None]],
                 on_record: OnRecord | None = None) -> None:
        super().__init__(engine, on_record)
        self._sleep = sleep
        self._do: dict[type, Callable[[Any], Awaitable[Any]]] = {
            Lookup: lambda fx: fx.cached.alookup(),
            Flight: lambda fx: fx.cached.cache.aenter_flight(fx.key),
            Land: self._land,
            Ready: lambda fx: engine.ledger.aready(),
            Reserve: lambda fx: (fx.budgets or engine.budgets).areserve(**fx.args),  # type: ignore[union-attr]
            Label: lambda fx: engine.ledger.arecord_feedback(fx.request_id, fx.score, _now(), source="judge",
                                                             model=fx.model),
            Send: self._send,
            Sleep: lambda fx: self._sleep(fx.seconds),
            Settle: lambda fx: fx.hold.asettle(fx.amount),
            Release: lambda fx: fx.hold.arelease(),
            Store: lambda fx: fx.cached.cache.astore(fx.cached.request, **fx.args),
            Record: self._record,
            Pull: lambda fx: anext(fx.chunks, END),
            Hangup: lambda fx: _aclose(fx.chunks),
        }

    async def run(self, steps: Steps[Any], plan: Plan) -> Any:
        """Drive a request's ``steps`` to their end; errors leave carrying its ``request_id``."""
        result: list[Any] = []
        async for _ in self._drive(steps, plan, result.append):
            raise AssertionError("a request's steps hand no chunk out")
        return result[0]

    def pump(self, opened: Opened, ended: Callable[[RouteInfo], None]) -> AsyncGenerator[Any, None]:
        """The async twin of :meth:`SyncDriver.pump` (an async generator, so a stream dropped
        unread is finalised on its event loop and booked)."""
        return self._drive(read_stream(self.engine, opened), opened.plan, ended, armed=True)

    async def _drive(self, steps: Steps[Any], plan: Plan, ended: Callable[[Any], None], *,
                     armed: bool = False) -> AsyncGenerator[Any, None]:
        """The async twin of :meth:`SyncDriver._drive`."""
        finished, effect = _advance(steps, None, None, plan)  # inside read_stream's try from here on
        closed = hangup = False
        if armed:
            try:
                yield _ARMED
            except GeneratorExit:
                closed = hangup = True
        while not finished:
            value: Any = None
            error: BaseException | None = None
            if hangup or (closed and type(effect) is Emit):
                error, hangup = StreamClosed(), False  # told where the stream waits, then booked
            elif type(effect) is Emit:
                try:
                    yield effect.chunk
                except GeneratorExit:  # the caller closed or dropped the stream: book it, yield no more
                    closed, error = True, StreamClosed()
            else:
                try:
                    value = await self._do[type(effect)](effect)
                except BaseException as exc:
                    error = exc
            finished, effect = _advance(steps, value, error, plan)
        ended(effect)

    async def _land(self, effect: Land) -> None:
        effect.cached.cache.aleave_flight(effect.key, effect.token)

    async def _send(self, effect: Send) -> Any:
        completer = self.engine.completer
        if not effect.stream:
            return await completer.acomplete(effect.call)
        chunks = completer.astream(effect.call)
        first = await anext(aiter(chunks), _END)
        return _aprepend(first, chunks)

    async def _record(self, effect: Record) -> None:
        try:
            await self.engine.ledger.aappend(effect.record)
        except LedgerUnavailable as exc:
            self._lost(effect, exc)
        self._booked(effect)


def _advance(steps: Steps[Any], value: Any, error: BaseException | None, plan: Plan) -> tuple[bool, Any]:
    """One step of the request: ``(False, next effect)`` or ``(True, its result)``."""
    try:
        return False, steps.send(value) if error is None else steps.throw(error)
    except StopIteration as done:
        return True, done.value
    except CostrouteError as exc:
        if exc.request_id is None:
            exc.request_id = plan.request_id
        raise


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _close(chunks: Any) -> None:
    close = getattr(chunks, "close", None)
    if callable(close):
        close()


async def _aclose(chunks: Any) -> None:
    aclose = getattr(chunks, "aclose", None)
    if callable(aclose):
        await aclose()


def _prepend(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    try:
        if first is not _END:
            yield first
            yield from rest
    finally:
        close = getattr(rest, "close", None)
        if callable(close):
            close()


async def _aprepend(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    try:
        if first is not _END:
            yield first
            async for chunk in rest:
                yield chunk
    finally:
        close = getattr(rest, "aclose", None)
        if callable(close):
            await close()
