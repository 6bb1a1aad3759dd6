"""Which budget counters a request touches: a pure function of the budgets and the request.

The period start is part of every counter's key, so a new period is simply a new counter and no
reset job can lose spend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ._config import Action, BudgetConfig, Period
from ._money import to_micros

__all__ = ["TOTAL_START", "BudgetKey", "budget_keys", "period_bounds", "scope_key"]

TOTAL_START = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class BudgetKey:
    """One budget counter: a budget, a scope value and a period."""

    budget: str
    scope_key: str  # "global", "tag:user=alice", "policy=default", "model=gpt-4o-mini"
    period_start: datetime  # aware, UTC
    period_end: datetime | None  # aware, UTC; None for period "total"
    limit_micros: int
    action: Action
    id: str = field(init=False, repr=False, compare=False)  # the counter's storage key

    def __post_init__(self) -> None:
        start = self.period_start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        object.__setattr__(self, "id", f"{self.budget}|{self.scope_key}|{start}")

    @property
    def enforced(self) -> bool:
        """Whether the counter may refuse a reservation (``warn`` budgets never do)."""
        return self.action != "warn"


def period_bounds(period: Period, now: datetime, tz: str = "UTC") -> tuple[datetime, datetime | None]:
    """The ``[start, end)`` of the period containing ``now``, aligned in time zone ``tz`` (UTC)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if period == "total":
        return TOTAL_START, None
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    if period == "hour":
        start = local.replace(minute=0, second=0, microsecond=0).astimezone(timezone.utc)
        end = start + timedelta(hours=1)
        if not start <= now < end:  # a half-hour clock change: the local hour is not 60 minutes
            start = now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
            end = start + timedelta(hours=1)
        return start, end
    day = datetime(local.year, local.month, local.day, tzinfo=zone)
    if period == "day":
        nxt = day.date() + timedelta(days=1)
        first, after = day, datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
    elif period == "week":
        monday = day.date() - timedelta(days=day.weekday())
        sunday_next = monday + timedelta(days=7)
        first = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
        after = datetime(sunday_next.year, sunday_next.month, sunday_next.day, tzinfo=zone)
    else:  # month
        first = datetime(local.year, local.month, 1, tzinfo=zone)
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        after = datetime(year, month, 1, tzinfo=zone)
    return first.astimezone(timezone.utc), after.astimezone(timezone.utc)


def scope_key(
    scope: str, *, tags: Mapping[str, str], policy: str, model: str
) -> str | None:
    """The scope part of a counter key, or ``None`` when the budget does not apply."""
    if scope == "global":
        return "global"
    if scope == "policy":
        return f"policy={policy}"
    if scope == "model":
        return f"model={model}"
    name = scope.removeprefix("tag:")
    value = tags.get(name)
    return None if value is None else f"tag:{name}={value}"


def budget_keys(
    budgets: Sequence[BudgetConfig],
    *,
    tags: Mapping[str, str],
    policy: str,
    model: str,
    now: datetime,
) -> list[BudgetKey]:
    """Every counter a request with these attributes counts against, in budget order."""
    keys: list[BudgetKey] = []
    for budget in budgets:
        scope = scope_key(budget.scope, tags=tags, policy=policy, model=model)
        if scope is None:
            continue
        start, end = period_bounds(budget.period, now, budget.timezone)
        keys.append(
            BudgetKey(
                budget=budget.name,
                scope_key=scope,
                period_start=start,
                period_end=end,
                limit_micros=to_micros(budget.limit_usd),
                action=budget.on_exceed,
            )
        )
    return keys
