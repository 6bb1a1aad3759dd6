"""Budgets: actions, alerts, reserve/settle/release semantics, and every terminal path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from costroute import BudgetExceeded
from costroute.spend import (
    AlertEvent,
    BudgetConfig,
    Budgets,
    BudgetStore,
    MemoryBudgetStore,
    MemoryLedger,
    Reservation,
)

from .conftest import make_record

NOW = datetime(2026, 11, 3, 12, tzinfo=timezone.utc)
D = Decimal


class Clock:
    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def budget(**kw: Any) -> BudgetConfig:
    base: dict[str, Any] = {"name": "b", "limit_usd": "1", "period": "day"}
    base.update(kw)
    return BudgetConfig.model_validate(base)


def reserved(b: Budgets, **req: Any) -> Decimal:
    return sum((s.reserved for s in b.snapshot(b.keys_for(**req))), D(0))


def spent(b: Budgets, **req: Any) -> list[Decimal]:
    return [s.spent for s in b.snapshot(b.keys_for(**req))]


def test_reserve_settle_release(store: BudgetStore) -> None:
    b = Budgets([budget()], store, clock=Clock())
    r = b.reserve(request_id="q1", amount=D("0.40"))
    assert isinstance(r, Reservation) and r.state == "held"
    assert reserved(b) == D("0.4")
    r.settle(D("0.25"))
    assert r.state == "settled" and spent(b) == [D("0.25")] and reserved(b) == 0
    r.release()  # safe after settle
    with pytest.raises(RuntimeError, match="already settled"):
        r.settle(D("0.1"))
    r2 = b.reserve(request_id="q2", amount=D("0.75"))
    b.release(r2)
    b.release(r2)
    assert reserved(b) == 0 and spent(b) == [D("0.25")]


def test_block_raises_and_reserves_nothing(store: BudgetStore) -> None:
    b = Budgets([budget(), budget(name="user", scope="tag:user", limit_usd="0.3")], store,
                clock=Clock())
    with pytest.raises(BudgetExceeded) as info:
        b.reserve(request_id="q", amount=D("0.31"), tags={"user": "al"})
    exc = info.value
    assert (exc.budget, exc.scope_key, exc.action) == ("user", "tag:user=al", "block")
    assert "0.310000" in str(exc) and "limit $0.300000" in str(exc)
    assert reserved(b, tags={"user": "al"}) == 0
    # requests without the tag are not limited by the tag budget
    b.reserve(request_id="q", amount=D("0.9")).release()


def test_downgrade_then_block(store: BudgetStore) -> None:
    b = Budgets([budget(on_exceed="downgrade")], store, clock=Clock())
    b.reserve(request_id="a", amount=D("0.9")).settle(D("0.9"))
    with pytest.raises(BudgetExceeded) as info:
        b.reserve(request_id="b", amount=D("0.2"))
    assert info.value.action == "downgrade"
    b.reserve(request_id="b", amount=D("0.05")).settle(D("0.05"))  # the cheaper model fits


def test_block_wins_over_downgrade(store: BudgetStore) -> None:
    b = Budgets([budget(name="d", on_exceed="downgrade"), budget(name="k")], store, clock=Clock())
    with pytest.raises(BudgetExceeded) as info:
        b.reserve(request_id="a", amount=D("2"))
    assert (info.value.budget, info.value.action) == ("k", "block")


def test_warn_logs_and_never_refuses(store: BudgetStore, caplog: pytest.LogCaptureFixture) -> None:
    b = Budgets([budget(on_exceed="warn", limit_usd="0.1")], store, clock=Clock())
    with caplog.at_level(logging.WARNING, logger="costroute.spend"):
        r = b.reserve(request_id="a", amount=D("0.5"))
    r.settle(D("0.5"))
    assert spent(b) == [D("0.5")]
    assert any("over its limit" in m for m in caplog.messages)


def test_alerts_fire_once_per_threshold(store: BudgetStore) -> None:
    events: list[AlertEvent] = []
    cfg = [budget(alerts=[0.5, 0.8, 1.0])]
    b = Budgets(cfg, store, on_alert=events.append, clock=Clock())
    other = Budgets(cfg, store, on_alert=events.append, clock=Clock())  # another "process"
    for i, amount in enumerate(["0.3", "0.25", "0.1", "0.2"]):
        (b if i % 2 else other).reserve(request_id=str(i), amount=D(amount)).settle(D(amount))
    assert [(e.threshold, e.spent, e.refused) for e in events] == [
        (0.5, D("0.55"), False), (0.8, D("0.85"), False)
    ]
    with pytest.raises(BudgetExceeded):
        b.reserve(request_id="x", amount=D("0.2"))
    with pytest.raises(BudgetExceeded):
        other.reserve(request_id="y", amount=D("0.2"))
    assert [(e.threshold, e.refused) for e in events][2:] == [(1.0, True)]
    assert events[0].budget == "b" and events[0].scope_key == "global"
    assert events[0].limit == D(1) and events[0].period_start == datetime(
        2026, 11, 3, tzinfo=timezone.utc)


def test_alert_callback_errors_do_not_break_requests(caplog: pytest.LogCaptureFixture) -> None:
    def boom(event: AlertEvent) -> None:
        raise RuntimeError("pager down")

    b = Budgets([budget(alerts=[0.1])], MemoryBudgetStore(), on_alert=boom, clock=Clock())
    b.reserve(request_id="a", amount=D("0.5")).settle(D("0.5"))
    assert "on_alert callback failed" in caplog.text


def test_new_period_resets(store: BudgetStore) -> None:
    clock = Clock()
    b = Budgets([budget()], store, clock=clock)
    b.reserve(request_id="a", amount=D("1")).settle(D("1"))
    with pytest.raises(BudgetExceeded):
        b.reserve(request_id="b", amount=D("0.01"))
    clock.at = NOW + timedelta(days=1)
    b.reserve(request_id="b", amount=D("1")).settle(D("1"))


def test_orphans_expire_after_ttl(store: BudgetStore) -> None:
    clock = Clock()
    b = Budgets([budget()], store, clock=clock, reservation_ttl_s=30)
    b.reserve(request_id="orphan", amount=D("1"))  # never settled nor released
    with pytest.raises(BudgetExceeded):
        b.reserve(request_id="b", amount=D("0.5"))
    clock.at = NOW + timedelta(seconds=31)
    b.reserve(request_id="b", amount=D("1")).settle(D("1"))


def test_overrun_is_recorded_anyway(store: BudgetStore) -> None:
    b = Budgets([budget()], store, clock=Clock())
    b.reserve(request_id="a", amount=D("0.1")).settle(D("1.5"))
    assert spent(b) == [D("1.5")]


def test_no_applicable_budget_touches_nothing() -> None:
    b = Budgets([budget(scope="tag:user")], MemoryBudgetStore(), clock=Clock())
    with b.reserve(request_id="a", amount=D("100")) as r:
        assert r.keys == ()
        r.settle(D("100"))


def test_invalid_amounts() -> None:
    b = Budgets([budget()], MemoryBudgetStore(), clock=Clock())
    with pytest.raises(ValueError):
        b.reserve(request_id="a", amount=D("-1"))
    r = b.reserve(request_id="a", amount=D("0.1"))
    with pytest.raises(ValueError):
        r.settle(D("-0.1"))
    with pytest.raises(ValueError, match="unique"):
        Budgets([budget(), budget()], MemoryBudgetStore())


def test_reservation_rounds_up_settle_rounds_half_even() -> None:
    b = Budgets([budget()], MemoryBudgetStore(), clock=Clock())
    r = b.reserve(request_id="a", amount=D("0.0000001"))
    assert r.micros == 1
    r.settle(D("0.0000005"))
    assert spent(b) == [D("0")]


def test_seed_from_ledger(store: BudgetStore) -> None:
    ledger = MemoryLedger()
    ts = NOW - timedelta(hours=1)
    ledger.append_many([
        make_record(1, ts=ts, cost_usd=D("0.2"), tags={"user": "al"}),
        make_record(2, ts=ts, cost_usd=D("0.3"), tags={"user": "bo"}),
        make_record(3, ts=ts - timedelta(days=1), cost_usd=D("5"), tags={"user": "al"}),
    ])
    b = Budgets([budget(), budget(name="u", scope="tag:user")], store, clock=Clock())
    assert b.seed_from_ledger(ledger) == 3
    assert b.seed_from_ledger(ledger) == 0  # idempotent
    assert spent(b, tags={"user": "al"}) == [D("0.5"), D("0.2")]
    with pytest.raises(BudgetExceeded):
        b.reserve(request_id="x", amount=D("0.6"))


async def test_async_api(store: BudgetStore) -> None:
    events: list[AlertEvent] = []
    b = Budgets([budget(alerts=[0.5])], store, clock=Clock(), on_alert=events.append)
    r = await b.areserve(request_id="a", amount=D("0.6"))
    await r.asettle(D("0.6"))
    assert [e.threshold for e in events] == [0.5]
    with pytest.raises(BudgetExceeded):
        await b.areserve(request_id="b", amount=D("0.5"))
    async with await b.areserve(request_id="c", amount=D("0.4")) as r2:
        assert reserved(b) == D("0.4")
    assert r2.state == "released" and reserved(b) == 0
    r3 = await b.areserve(request_id="d", amount=D("0.1"))
    await r3.arelease()
    await r3.arelease()
    assert spent(b) == [D("0.6")]


# -- every terminal path releases its reservation ------------------------------------------------

class Boom(Exception):
    pass


def _sync_raise(b: Budgets) -> None:
    with b.reserve(request_id="x", amount=D("0.5")):
        raise Boom


def _sync_interrupt(b: Budgets) -> None:
    try:
        with b.reserve(request_id="x", amount=D("0.5")):
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass


def _sync_generator_closed(b: Budgets) -> None:
    def stream() -> Iterator[int]:
        with b.reserve(request_id="x", amount=D("0.5")):
            yield 1
            yield 2

    gen = stream()
    next(gen)
    gen.close()


def _sync_no_settle(b: Budgets) -> None:
    with b.reserve(request_id="x", amount=D("0.5")):
        pass


async def _async_raise(b: Budgets) -> None:
    async with await b.areserve(request_id="x", amount=D("0.5")):
        raise Boom


async def _async_timeout(b: Budgets) -> None:
    async def call() -> None:
        async with await b.areserve(request_id="x", amount=D("0.5")):
            await asyncio.sleep(10)

    await asyncio.wait_for(call(), timeout=0.01)


async def _async_cancelled(b: Budgets) -> None:
    started = asyncio.Event()

    async def call() -> None:
        async with await b.areserve(request_id="x", amount=D("0.5")):
            started.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(call())
    await started.wait()
    task.cancel()
    await task


async def _async_interrupt(b: Budgets) -> None:
    try:
        async with await b.areserve(request_id="x", amount=D("0.5")):
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass


async def _async_generator_closed(b: Budgets) -> None:
    async def stream() -> AsyncIterator[int]:
        async with await b.areserve(request_id="x", amount=D("0.5")):
            yield 1
            yield 2

    gen = stream()
    await gen.__anext__()
    await gen.aclose()


SYNC_PATHS: dict[str, tuple[Callable[[Budgets], None], type[BaseException] | None]] = {
    "exception": (_sync_raise, Boom),
    "keyboard-interrupt": (_sync_interrupt, None),
    "generator-closed": (_sync_generator_closed, None),
    "no-settle": (_sync_no_settle, None),
}
ASYNC_PATHS: dict[str, tuple[Callable[[Budgets], Any], type[BaseException] | None]] = {
    "exception": (_async_raise, Boom),
    "timeout": (_async_timeout, TimeoutError),
    "cancelled": (_async_cancelled, asyncio.CancelledError),
    "keyboard-interrupt": (_async_interrupt, None),
    "generator-closed": (_async_generator_closed, None),
}


@pytest.mark.parametrize("path", sorted(SYNC_PATHS))
def test_sync_terminal_paths_release(store: BudgetStore, path: str) -> None:
    b = Budgets([budget()], store, clock=Clock())
    fn, raises = SYNC_PATHS[path]
    if raises is None:
        fn(b)
    else:
        with pytest.raises(raises):
            fn(b)
    assert reserved(b) == 0 and spent(b) == [D(0)]
    b.reserve(request_id="after", amount=D("1")).settle(D("1"))  # the whole budget is usable


@pytest.mark.parametrize("path", sorted(ASYNC_PATHS))
async def test_async_terminal_paths_release(store: BudgetStore, path: str) -> None:
    b = Budgets([budget()], store, clock=Clock())
    fn, raises = ASYNC_PATHS[path]
    if raises is None:
        await fn(b)
    else:
        with pytest.raises(raises):
            await fn(b)
    assert reserved(b) == 0 and spent(b) == [D(0)]
    (await b.areserve(request_id="after", amount=D("1"))).settle(D("1"))


def test_settled_inside_context_is_kept(store: BudgetStore) -> None:
    b = Budgets([budget()], store, clock=Clock())
    with pytest.raises(Boom), b.reserve(request_id="x", amount=D("0.5")) as r:
        r.settle(D("0.4"))
        raise Boom
    assert spent(b) == [D("0.4")] and reserved(b) == 0


async def test_cancelled_while_reserving_leaves_nothing(store: BudgetStore) -> None:
    b = Budgets([budget()], store, clock=Clock())
    for i in range(30):
        async def call() -> None:
            async with await b.areserve(request_id="x", amount=D("0.5")):
                await asyncio.sleep(10)

        task = asyncio.create_task(call())
        for _ in range(i % 4):
            await asyncio.sleep(0)
        if i % 5 == 4:
            await asyncio.sleep(0.0005 * i)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert reserved(b) == 0


def test_a_refusal_does_not_use_up_the_alerts_real_spend_will_reach() -> None:
    events: list[AlertEvent] = []
    b = Budgets([budget(alerts=[0.5, 1.0], on_exceed="downgrade")], MemoryBudgetStore(),
                on_alert=events.append, clock=Clock())
    with pytest.raises(BudgetExceeded):
        b.reserve(request_id="big", amount=D("5"))  # refused: far above the limit
    assert [(e.threshold, e.refused, e.spent) for e in events] == [(1.0, True, D(0))]  # real spend, no 0.5
    b.reserve(request_id="real", amount=D("0.6")).settle(D("0.6"))
    assert [(e.threshold, e.refused) for e in events][1:] == [(0.5, False)]  # the real crossing is reported


def test_an_alert_fires_when_spend_lands_exactly_on_its_threshold() -> None:
    events: list[AlertEvent] = []
    b = Budgets([budget(limit_usd="100", alerts=[0.55])], MemoryBudgetStore(), on_alert=events.append, clock=Clock())
    b.reserve(request_id="a", amount=D("55")).settle(D("55"))
    assert [e.threshold for e in events] == [0.55]
