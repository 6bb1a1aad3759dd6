"""Fixtures for the spend tests: every ledger and every budget store, parametrized."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costroute.spend import (
    BudgetStore,
    Ledger,
    MemoryBudgetStore,
    MemoryLedger,
    PostgresLedger,
    RedisBudgetStore,
    SpendRecord,
    SQLiteBudgetStore,
    SQLiteLedger,
)

T0 = datetime(2026, 11, 3, 12, 0, tzinfo=timezone.utc)


def make_record(i: int = 0, **overrides: Any) -> SpendRecord:
    """A plausible record; ``i`` varies the request id and timestamp."""
    values: dict[str, Any] = {
        "request_id": f"req-{i}",
        "attempt": 0,
        "ts": T0 + timedelta(minutes=i),
        "model": "gpt-4o-mini",
        "provider": "openai",
        "status": "ok",
        "policy": "default",
        "tier": "standard",
        "input_tokens": 100,
        "output_tokens": 20,
        "cost_usd": Decimal("0.000123"),
        "baseline_cost_usd": Decimal("0.001000"),
        "saved_usd": Decimal("0.000877"),
        "tags": {"user": "alice"},
        "prompt_hash": "abc",
    }
    values.update(overrides)
    return SpendRecord(**values)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """Every ledger backend, empty."""
    made: Ledger
    if request.param == "memory":
        made = MemoryLedger()
    elif request.param == "sqlite":
        made = SQLiteLedger(tmp_path / "ledger.sqlite3")
    else:
        made = PostgresLedger(request.getfixturevalue("postgres_dsn"))
    yield made
    made.close()


def _store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> BudgetStore:
    if kind == "memory":
        return MemoryBudgetStore()
    if kind == "sqlite":
        return SQLiteBudgetStore(tmp_path / "budgets.sqlite3")
    return RedisBudgetStore(request.getfixturevalue("redis_url"))


STORES = ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
async def store(
    store_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[BudgetStore]:
    """Every budget store backend, empty (async so the Redis async pool closes in its loop)."""
    made = _store(store_kind, request, tmp_path)
    yield made
    if isinstance(made, RedisBudgetStore):
        await made.aclose()
    else:
        made.close()


