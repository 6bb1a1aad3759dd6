"""budget_keys and period_bounds: pure functions, no store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from costroute.spend import BudgetConfig, budget_keys, period_bounds

UTC = timezone.utc


def b(**kw: object) -> BudgetConfig:
    base: dict[str, object] = {"name": "b", "limit_usd": Decimal("1")}
    base.update(kw)
    return BudgetConfig.model_validate(base)


@pytest.mark.parametrize(
    ("period", "now", "tz", "start", "end"),
    [
        ("hour", datetime(2026, 11, 3, 12, 34, 56, tzinfo=UTC), "UTC",
         datetime(2026, 11, 3, 12, tzinfo=UTC), datetime(2026, 11, 3, 13, tzinfo=UTC)),
        ("day", datetime(2026, 11, 3, 23, 30, tzinfo=UTC), "UTC",
         datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)),
        ("week", datetime(2026, 11, 5, 1, tzinfo=UTC), "UTC",  # a Thursday
         datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC)),
        ("month", datetime(2026, 12, 31, 23, 59, tzinfo=UTC), "UTC",
         datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("month", datetime(2026, 2, 10, tzinfo=UTC), "UTC",
         datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
        # 23:30 UTC on Nov 3 is already Nov 4 in Tokyo
        ("day", datetime(2026, 11, 3, 23, 30, tzinfo=UTC), "Asia/Tokyo",
         datetime(2026, 11, 3, 15, tzinfo=UTC), datetime(2026, 11, 4, 15, tzinfo=UTC)),
        # the US DST change (Nov 1 2026): that day is 25 hours long in New York
        ("day", datetime(2026, 11, 1, 12, tzinfo=UTC), "America/New_York",
         datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC)),
        ("hour", datetime(2026, 11, 3, 12, 40, tzinfo=UTC), "Asia/Kolkata",  # UTC+5:30
         datetime(2026, 11, 3, 12, 30, tzinfo=UTC), datetime(2026, 11, 3, 13, 30, tzinfo=UTC)),
        ("total", datetime(2026, 11, 3, tzinfo=UTC), "UTC",
         datetime(1970, 1, 1, tzinfo=UTC), None),
    ],
)
def test_period_bounds(
    period: str, now: datetime, tz: str, start: datetime, end: datetime | None
) -> None:
    assert period_bounds(period, now, tz) == (start, end)  # type: ignore[arg-type]


def test_month_in_a_zone_contains_now() -> None:
    zone = ZoneInfo("Pacific/Auckland")
    for day in range(0, 400, 7):
        now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day, hours=day % 24)
        start, end = period_bounds("month", now, "Pacific/Auckland")
        assert end is not None and start <= now < end
        assert start.astimezone(zone).day == 1 and start.astimezone(zone).hour == 0


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        period_bounds("day", datetime(2026, 1, 1), "UTC")


def test_scopes() -> None:
    budgets = [
        b(name="all", limit_usd=Decimal("10"), period="month"),
        b(name="per-user", scope="tag:user", period="day", on_exceed="downgrade"),
        b(name="per-policy", scope="policy", on_exceed="warn"),
        b(name="per-model", scope="model", limit_usd=Decimal("0.5"), period="total"),
    ]
    now = datetime(2026, 11, 3, 12, tzinfo=UTC)
    keys = budget_keys(budgets, tags={"user": "alice"}, policy="p", model="m", now=now)
    assert [(k.budget, k.scope_key, k.limit_micros, k.action) for k in keys] == [
        ("all", "global", 10_000_000, "block"),
        ("per-user", "tag:user=alice", 1_000_000, "downgrade"),
        ("per-policy", "policy=p", 1_000_000, "warn"),
        ("per-model", "model=m", 500_000, "block"),
    ]
    assert keys[1].id == "per-user|tag:user=alice|2026-11-03T00:00:00Z"
    assert keys[3].period_end is None
    untagged = budget_keys(budgets, tags={"team": "x"}, policy="p", model="m", now=now)
    assert [k.budget for k in untagged] == ["all", "per-policy", "per-model"]


def test_next_period_is_a_new_key() -> None:
    budgets = [b(period="day")]
    d1 = budget_keys(budgets, tags={}, policy="p", model="m",
                     now=datetime(2026, 11, 3, 23, 59, tzinfo=UTC))
    d2 = budget_keys(budgets, tags={}, policy="p", model="m",
                     now=datetime(2026, 11, 4, 0, 0, tzinfo=UTC))
    assert d1[0].id != d2[0].id and d1[0].period_end == d2[0].period_start


def test_an_hour_period_contains_now_across_a_half_hour_clock_change() -> None:
    from datetime import datetime, timedelta, timezone

    t = datetime(2024, 4, 6, 14, 0, tzinfo=timezone.utc)  # Lord Howe Island ends summer time by 30 minutes
    while t < datetime(2024, 4, 6, 17, 0, tzinfo=timezone.utc):
        start, end = period_bounds("hour", t, "Australia/Lord_Howe")
        assert end is not None and start <= t < end and end - start == timedelta(hours=1)
        t += timedelta(minutes=10)
