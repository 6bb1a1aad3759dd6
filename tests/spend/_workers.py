"""Worker bodies for the concurrency tests (importable, so ``spawn`` children can run them)."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from decimal import Decimal

from costroute import BudgetExceeded
from costroute.spend import (
    BudgetConfig,
    Budgets,
    BudgetStore,
    Ledger,
    RedisBudgetStore,
    SpendRecord,
    SQLiteBudgetStore,
    SQLiteLedger,
)

LIMIT = Decimal("1")
USERS = ("ann", "bob", "cy")


def budgets_for(run: int) -> list[BudgetConfig]:
    """A $1 global budget and a $0.40 per-user budget, with names (so counters) unique to a run."""
    return [
        BudgetConfig(name=f"global-{run}", limit_usd=LIMIT, period="total"),
        BudgetConfig(name=f"per-user-{run}", limit_usd=Decimal("0.4"), period="total",
                     scope="tag:user"),
    ]


BUDGETS = budgets_for(0)


class Flaky(Exception):
    """A simulated provider error."""


def record(request_id: str, cost: Decimal, user: str) -> SpendRecord:
    return SpendRecord(
        request_id=request_id, attempt=0, ts=datetime.now(timezone.utc), model="m",
        provider="p", status="ok", cost_usd=cost, tags={"user": user},
    )


def plan(rng: random.Random) -> tuple[Decimal, Decimal, str, bool]:
    """An estimate, an actual (≤ estimate), a user, and whether the call fails."""
    est = Decimal(rng.randint(1, 60_000)) / 1_000_000
    actual = (est * Decimal(rng.randint(50, 100)) / 100).quantize(Decimal("0.000001"))
    return est, actual, rng.choice(USERS), rng.random() < 0.2


def attempt(budgets: Budgets, ledger: Ledger, rid: str, rng: random.Random) -> bool:
    """One request: reserve, then fail (release) or append a record and settle."""
    est, actual, user, fails = plan(rng)
    try:
        res = budgets.reserve(request_id=rid, amount=est, tags={"user": user})
    except BudgetExceeded:
        return False
    try:
        with res:
            if fails:
                raise Flaky
            ledger.append(record(rid, actual, user))
            res.settle(actual)
    except Flaky:
        pass
    return True


async def aattempt(budgets: Budgets, ledger: Ledger, rid: str, rng: random.Random) -> bool:
    """The async twin of :func:`attempt`, yielding to other tasks while the money is held."""
    import asyncio

    est, actual, user, fails = plan(rng)
    try:
        res = await budgets.areserve(request_id=rid, amount=est, tags={"user": user})
    except BudgetExceeded:
        return False
    try:
        async with res:
            await asyncio.sleep(0)
            if fails:
                raise Flaky
            ledger.append(record(rid, actual, user))
            await res.asettle(actual)
    except Flaky:
        pass
    return True


def open_store(kind: str, where: str) -> BudgetStore:
    return SQLiteBudgetStore(where) if kind == "sqlite" else RedisBudgetStore(where)


def process_main(kind: str, where: str, ledger_path: str, worker: int, n: int, seed: int) -> None:
    """A child process: ``n`` attempts against the shared store and the shared SQLite ledger."""
    store = open_store(kind, where)
    ledger = SQLiteLedger(ledger_path)
    budgets = Budgets(BUDGETS, store)
    rng = random.Random(seed * 1000 + worker)
    for i in range(n):
        attempt(budgets, ledger, f"p{worker}-{i}", rng)
    store.close()
    ledger.close()
