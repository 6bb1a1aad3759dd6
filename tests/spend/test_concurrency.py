"""Many workers against a $1 budget: never overspent, nothing left reserved, no false denials."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from costroute import BudgetExceeded
from costroute.spend import Budgets, BudgetStore, Ledger, MemoryLedger, SQLiteLedger

from . import _workers as w

WORKERS = 64
ATTEMPTS = 2
MICRO = Decimal("0.000001")


def check_quiescent(budgets: Budgets, ledger: Ledger) -> None:
    """Invariants at rest, then a sequential drain proving no false denials."""
    (glob,) = budgets.snapshot(budgets.keys_for())
    users = [budgets.snapshot(budgets.keys_for(tags={"user": u}))[1] for u in w.USERS]
    assert glob.reserved == 0 and all(u.reserved == 0 for u in users)
    assert glob.spent <= w.LIMIT and all(u.spent <= Decimal("0.4") for u in users)
    assert sum(u.spent for u in users) == glob.spent
    assert sum((r.cost_usd for r in ledger.records()), Decimal(0)) == glob.spent
    for u, state in zip(w.USERS, users, strict=True):
        assert ledger.summary(tags={"user": u})[0].cost_usd == state.spent if state.spent else True
    # drain: whatever is left can still be used, to the micro-dollar, and not one more
    if glob.remaining:
        budgets.reserve(request_id="drain", amount=glob.remaining).settle(glob.remaining)
    with pytest.raises(BudgetExceeded):
        budgets.reserve(request_id="over", amount=MICRO)
    (after,) = budgets.snapshot(budgets.keys_for())
    assert after.spent == w.LIMIT and after.reserved == 0


def watch(budgets: Budgets, stop: threading.Event, seen: list[str]) -> None:
    """Sample the global counter while workers run: spent + reserved never exceeds the limit."""
    key = budgets.keys_for()
    while not stop.is_set():
        (s,) = budgets.snapshot(key)
        if s.spent + s.reserved > w.LIMIT:
            seen.append(f"{s.spent} + {s.reserved}")
        time.sleep(0.001)


SEEDS = range(20)


def test_threads(store: BudgetStore) -> None:
    for seed in SEEDS:
        threads_once(store, seed)


def threads_once(store: BudgetStore, seed: int) -> None:
    budgets, ledger = Budgets(w.budgets_for(seed), store), MemoryLedger()
    stop, violations = threading.Event(), []
    monitor = threading.Thread(target=watch, args=(budgets, stop, violations))
    barrier = threading.Barrier(WORKERS)

    def run(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        barrier.wait()
        for i in range(ATTEMPTS):
            w.attempt(budgets, ledger, f"t{n}-{i}", rng)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(WORKERS)]
    monitor.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    monitor.join()
    assert violations == []
    check_quiescent(budgets, ledger)


async def test_asyncio(store: BudgetStore) -> None:
    for seed in SEEDS:
        budgets, ledger = Budgets(w.budgets_for(seed), store), MemoryLedger()

        async def run(
            n: int, budgets: Budgets = budgets, ledger: Ledger = ledger, seed: int = seed
        ) -> None:
            rng = random.Random(seed * 1000 + n)
            for i in range(ATTEMPTS):
                await w.aattempt(budgets, ledger, f"a{n}-{i}", rng)

        await asyncio.gather(*(run(n) for n in range(WORKERS)))
        check_quiescent(budgets, ledger)


@pytest.mark.parametrize(
    "kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]
)
def test_processes(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    where = str(tmp_path / "budgets.sqlite3") if kind == "sqlite" else request.getfixturevalue(
        "redis_url")
    ledger_path = str(tmp_path / "ledger.sqlite3")
    w.open_store(kind, where).close()  # create the schema once, before the race
    SQLiteLedger(ledger_path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=w.process_main, args=(kind, where, ledger_path, n, 30, 7))
        for n in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = w.open_store(kind, where)
    ledger = SQLiteLedger(ledger_path)
    try:
        check_quiescent(Budgets(w.BUDGETS, store), ledger)
    finally:
        store.close()
        ledger.close()
