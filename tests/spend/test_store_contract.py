"""The contract every BudgetStore honours: memory, SQLite and Redis run the same tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from costroute.spend import BudgetKey, BudgetStore, CounterState

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
NOW = START.timestamp() + 3600


def key(name: str = "b", limit: int = 1000, action: str = "block", scope: str = "global") -> BudgetKey:
    return BudgetKey(
        budget=name, scope_key=scope, period_start=START, period_end=START + timedelta(days=30),
        limit_micros=limit, action=action,  # type: ignore[arg-type]
    )


def spent_reserved(store: BudgetStore, *keys: BudgetKey, now: float = NOW) -> list[tuple[int, int]]:
    return [
        (int(s.spent * 1_000_000), int(s.reserved * 1_000_000))
        for s in store.snapshot(list(keys), now=now)
    ]


def test_is_a_store(store: BudgetStore) -> None:
    assert isinstance(store, BudgetStore)


def test_reserve_settle_release(store: BudgetStore) -> None:
    k = key()
    out = store.reserve("r1", [k], 400, now=NOW, ttl_s=60)
    assert out.ok and out.denied == () and out.states == (CounterState(0, 400),)
    assert spent_reserved(store, k) == [(0, 400)]
    assert store.settle("r1", [k], 300) == [300]
    assert spent_reserved(store, k) == [(300, 0)]
    store.release("r1", [k])  # after settle: a no-op
    assert spent_reserved(store, k) == [(300, 0)]
    store.reserve("r2", [k], 700, now=NOW, ttl_s=60)
    store.release("r2", [k])
    store.release("r2", [k])  # idempotent
    assert spent_reserved(store, k) == [(300, 0)]


def test_limit_is_inclusive_and_refusals_change_nothing(store: BudgetStore) -> None:
    k = key(limit=1000)
    assert store.reserve("a", [k], 600, now=NOW, ttl_s=60).ok
    refused = store.reserve("b", [k], 401, now=NOW, ttl_s=60)
    assert not refused.ok and refused.denied == (0,)
    assert refused.states == (CounterState(0, 600),)
    assert store.reserve("c", [k], 400, now=NOW, ttl_s=60).ok
    assert spent_reserved(store, k) == [(0, 1000)]


def test_all_or_nothing_across_keys(store: BudgetStore) -> None:
    big, small = key("big", 10_000), key("small", 500)
    out = store.reserve("r", [big, small], 600, now=NOW, ttl_s=60)
    assert not out.ok and out.denied == (1,)
    assert spent_reserved(store, big, small) == [(0, 0), (0, 0)]
    assert store.reserve("r", [big, small], 500, now=NOW, ttl_s=60).ok
    assert spent_reserved(store, big, small) == [(0, 500), (0, 500)]
    assert store.settle("r", [big, small], 450) == [450, 450]


def test_warn_keys_never_refuse(store: BudgetStore) -> None:
    w = key("w", 100, action="warn")
    out = store.reserve("r", [w], 500, now=NOW, ttl_s=60)
    assert out.ok and out.states == (CounterState(0, 500),)


def test_reserving_an_id_twice_is_a_noop(store: BudgetStore) -> None:
    k = key(limit=1000)
    assert store.reserve("r", [k], 600, now=NOW, ttl_s=60).ok
    assert store.reserve("r", [k], 600, now=NOW, ttl_s=60).ok
    assert spent_reserved(store, k) == [(0, 600)]


def test_expired_reservations_are_swept(store: BudgetStore) -> None:
    k = key(limit=1000)
    assert store.reserve("old", [k], 900, now=NOW, ttl_s=10)
    assert not store.reserve("new", [k], 900, now=NOW + 5, ttl_s=10).ok
    assert store.reserve("new", [k], 900, now=NOW + 11, ttl_s=10).ok
    assert spent_reserved(store, k, now=NOW + 11) == [(0, 900)]
    assert spent_reserved(store, k, now=NOW + 30) == [(0, 0)]
    # settling an expired reservation still records the spend: spend is truth
    assert store.settle("old", [k], 250) == [250]


def test_overrun_is_recorded(store: BudgetStore) -> None:
    k = key(limit=1000)
    store.reserve("r", [k], 100, now=NOW, ttl_s=60)
    assert store.settle("r", [k], 1500) == [1500]
    (state,) = store.snapshot([k], now=NOW)
    assert state.remaining == Decimal(0) and state.spent == Decimal("0.0015")


def test_counters_are_independent_per_period(store: BudgetStore) -> None:
    a = key()
    b = BudgetKey("b", "global", START + timedelta(days=30), START + timedelta(days=60), 1000,
                  "block")
    store.reserve("r", [a], 1000, now=NOW, ttl_s=60)
    assert store.reserve("s", [b], 1000, now=NOW, ttl_s=60).ok


def test_seed_only_sets_an_unwritten_counter(store: BudgetStore) -> None:
    k = key()
    store.reserve("r", [k], 10, now=NOW, ttl_s=60)  # a reservation is not a write of spent
    assert store.seed(k, 400) is True
    assert store.seed(k, 999) is False
    assert store.settle("r", [k], 10) == [410]
    k2 = key("other")
    store.settle("x", [k2], 5)
    assert store.seed(k2, 400) is False
    assert spent_reserved(store, k, k2) == [(410, 0), (5, 0)]


def test_claim_alert_once(store: BudgetStore) -> None:
    k = key()
    assert store.claim_alert(k, 0.5) is True
    assert store.claim_alert(k, 0.5) is False
    assert store.claim_alert(k, 0.8) is True
    assert store.claim_alert(key("other"), 0.5) is True


def test_snapshot_fields(store: BudgetStore) -> None:
    k = key(limit=2_000_000)
    store.reserve("r", [k], 500_000, now=NOW, ttl_s=60)
    store.settle("s", [k], 250_000)
    (s,) = store.snapshot([k], now=NOW)
    assert (s.budget, s.scope_key, s.action) == ("b", "global", "block")
    assert (s.limit, s.spent, s.reserved, s.remaining) == (
        Decimal("2"), Decimal("0.25"), Decimal("0.5"), Decimal("1.25")
    )
    assert s.resets_at == START + timedelta(days=30)
    assert store.snapshot([], now=NOW) == []


def test_total_period_keys(store: BudgetStore) -> None:
    k = BudgetKey("t", "global", datetime(1970, 1, 1, tzinfo=timezone.utc), None, 100, "block")
    assert store.reserve("r", [k], 100, now=NOW, ttl_s=60).ok
    assert store.settle("r", [k], 100) == [100]
    assert store.seed(k, 5) is False
    assert store.claim_alert(k, 1.0)


async def test_async_twins(store: BudgetStore) -> None:
    k = key(limit=1000)
    out = await store.areserve("r", [k], 700, now=NOW, ttl_s=60)
    assert out.ok
    assert not (await store.areserve("s", [k], 301, now=NOW, ttl_s=60)).ok
    assert await store.asettle("r", [k], 600) == [600]
    assert (await store.areserve("s", [k], 300, now=NOW, ttl_s=60)).ok
    await store.arelease("s", [k])
    await store.arelease("s", [k])
    assert await store.aclaim_alert(k, 0.5) is True
    assert await store.aclaim_alert(k, 0.5) is False
    assert spent_reserved(store, k) == [(600, 0)]


def test_odd_scope_values(store: BudgetStore) -> None:
    k = key(scope="tag:user=a|b c:{x}é")
    assert store.reserve("id with spaces|and:colons", [k], 10, now=NOW, ttl_s=60).ok
    assert store.settle("id with spaces|and:colons", [k], 10) == [10]
