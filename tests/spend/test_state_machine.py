"""A Hypothesis state machine over reserve / settle / release / expire, against a model.

Invariants after every step: each counter equals the model (conservation: spent is the sum of
settled actuals, reserved the sum of live holds), and spent + reserved ≤ limit unless a caller
settled more than it reserved or settled after its reservation expired.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from costroute import BudgetExceeded
from costroute.spend import (
    BudgetConfig,
    Budgets,
    BudgetStore,
    MemoryBudgetStore,
    Reservation,
    SQLiteBudgetStore,
)

TTL = 60
LIMITS = {"global": 1000, "user": 400}  # micro-dollars
BUDGETS = [
    BudgetConfig(name="global", limit_usd=Decimal("0.001"), period="total"),
    BudgetConfig(name="user", limit_usd=Decimal("0.0004"), period="total", scope="tag:user"),
]
U = Decimal("0.000001")


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 3, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.at


class BudgetMachine(RuleBasedStateMachine):
    held = Bundle("held")

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.store = self.make_store()
        self.budgets = Budgets(BUDGETS, self.store, clock=self.clock, reservation_ttl_s=TTL)
        self.spent = {"global": 0, "user": 0}
        self.live: dict[str, tuple[int, bool, datetime]] = {}  # id -> (amount, tagged, expiry)
        self.overrun = False
        self.n = 0

    def make_store(self) -> BudgetStore:
        return MemoryBudgetStore()

    def teardown(self) -> None:
        self.store.close()

    def _reserved(self, budget: str) -> int:
        return sum(
            amount for amount, tagged, exp in self.live.values()
            if exp > self.clock.at and (tagged or budget == "global")
        )

    @rule(target=held, amount=st.integers(0, 700), tagged=st.booleans())
    def reserve(self, amount: int, tagged: bool) -> Reservation | None:
        self.n += 1
        keys = ["global", "user"] if tagged else ["global"]
        fits = all(self.spent[k] + self._reserved(k) + amount <= LIMITS[k] for k in keys)
        try:
            res = self.budgets.reserve(
                request_id=f"r{self.n}", amount=amount * U, tags={"user": "u"} if tagged else {}
            )
        except BudgetExceeded:
            assert not fits, "a reservation that fits was refused"
            return None
        assert fits, "a reservation that does not fit was accepted"
        self.live = {k: v for k, v in self.live.items() if v[2] > self.clock.at}
        self.live[res.id] = (amount, tagged, self.clock.at + timedelta(seconds=TTL))
        return res

    def _settle_model(self, res: Reservation, actual: int) -> None:
        _, tagged, exp = self.live.pop(res.id, (0, len(res.keys) == 2, self.clock.at))
        if exp <= self.clock.at and actual:
            # settled after its reservation expired (a call longer than the TTL): the money was
            # already free for others, and spend is truth, so the limit can be passed
            self.overrun = True
        self.spent["global"] += actual
        if tagged:
            self.spent["user"] += actual

    @rule(res=consumes(held), fraction=st.integers(0, 100))
    def settle(self, res: Reservation | None, fraction: int) -> None:
        if res is None:
            return
        actual = res.micros * fraction // 100
        self.budgets.settle(res, actual * U)
        self._settle_model(res, actual)

    @rule(res=consumes(held), extra=st.integers(1, 500))
    def settle_more_than_reserved(self, res: Reservation | None, extra: int) -> None:
        if res is None:
            return
        self.budgets.settle(res, (res.micros + extra) * U)
        self._settle_model(res, res.micros + extra)
        self.overrun = True

    @rule(res=consumes(held))
    def release(self, res: Reservation | None) -> None:
        if res is None:
            return
        self.budgets.release(res)
        self.budgets.release(res)  # idempotent
        self.live.pop(res.id, None)

    @rule(res=held)
    def release_after_settle_is_noop(self, res: Reservation | None) -> None:
        if res is not None and res.state == "settled":
            self.budgets.release(res)

    @precondition(lambda self: bool(self.live))
    @rule(seconds=st.sampled_from([1, TTL - 1, TTL, TTL + 1]))
    def advance(self, seconds: int) -> None:
        self.clock.at += timedelta(seconds=seconds)

    @invariant()
    def counters_match_the_model(self) -> None:
        for budget, tags in (("global", {}), ("user", {"user": "u"})):
            keys = [k for k in self.budgets.keys_for(tags=tags) if k.budget == budget]
            (state,) = self.budgets.snapshot(keys)
            spent, reserved = int(state.spent / U), int(state.reserved / U)
            assert spent == self.spent[budget]
            assert reserved == self._reserved(budget)
            if not self.overrun:
                assert spent + reserved <= LIMITS[budget]


class SQLiteBudgetMachine(BudgetMachine):
    def make_store(self) -> BudgetStore:
        self._tmp = tempfile.TemporaryDirectory()
        return SQLiteBudgetStore(Path(self._tmp.name) / "b.sqlite3")

    def teardown(self) -> None:
        super().teardown()
        self._tmp.cleanup()


_settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMemoryBudgets = BudgetMachine.TestCase
TestMemoryBudgets.settings = _settings
TestSQLiteBudgets = SQLiteBudgetMachine.TestCase
TestSQLiteBudgets.settings = settings(_settings, max_examples=15)
