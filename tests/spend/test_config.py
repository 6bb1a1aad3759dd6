"""Configuration models: validation, defaults, paths and secrets."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from costroute.spend import (
    BudgetConfig,
    BudgetStoreConfig,
    LedgerConfig,
    MemoryBudgetStore,
    MemoryLedger,
    PostgresLedger,
    RedisBudgetStore,
    SpooledLedger,
    SQLiteBudgetStore,
    SQLiteLedger,
    budget_store_from_config,
    default_budget_store_path,
    default_data_dir,
    default_ledger_path,
    ledger_from_config,
)


def test_budget_defaults_and_coercion() -> None:
    cfg = BudgetConfig(name="monthly", limit_usd="12.50", alerts=[1.0, 0.5, 0.8, 0.5])  # type: ignore[arg-type]
    assert cfg.limit_usd == Decimal("12.50") and cfg.period == "month"
    assert cfg.scope == "global" and cfg.on_exceed == "block" and cfg.timezone == "UTC"
    assert cfg.alerts == [0.5, 0.8, 1.0]
    with pytest.raises(ValidationError):
        cfg.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("limit_usd", "0"),
        ("limit_usd", "-1"),
        ("period", "year"),
        ("scope", "user"),
        ("scope", "tag:"),
        ("on_exceed", "explode"),
        ("alerts", [1.5]),
        ("alerts", [0]),
        ("timezone", "Mars/Olympus"),
        ("name", "has space"),
        ("name", "a|b"),
        ("unknown_key", 1),
    ],
)
def test_budget_rejects(field: str, value: object) -> None:
    raw: dict[str, object] = {"name": "b", "limit_usd": "1", field: value}
    with pytest.raises(ValidationError) as info:
        BudgetConfig.model_validate(raw)
    assert field in str(info.value)


def test_ledger_and_store_configs() -> None:
    assert LedgerConfig().backend == "sqlite" and LedgerConfig().store_prompts is False
    with pytest.raises(ValidationError, match="dsn"):
        LedgerConfig(backend="postgres")
    with pytest.raises(ValidationError, match="url"):
        BudgetStoreConfig(backend="redis")
    with pytest.raises(ValidationError):
        BudgetStoreConfig(reservation_ttl_s=0)
    with pytest.raises(ValidationError):
        LedgerConfig.model_validate({"backend": "sqlite", "pth": "x"})


def test_default_paths(tmp_path: Path) -> None:
    env = {"COSTROUTE_HOME": str(tmp_path / "home")}
    assert default_data_dir(env) == tmp_path / "home"
    assert default_ledger_path(env) == tmp_path / "home" / "ledger.sqlite3"
    assert default_budget_store_path(env) == tmp_path / "home" / "budgets.sqlite3"
    assert default_ledger_path({"HOME": "/h"}) == Path(
        "~/.local/share/costroute/ledger.sqlite3"
    ).expanduser()


def test_factories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTROUTE_HOME", str(tmp_path / "h"))
    assert isinstance(ledger_from_config(LedgerConfig(backend="memory")), MemoryLedger)
    default = ledger_from_config(LedgerConfig())
    assert isinstance(default, SpooledLedger) and isinstance(default.inner, SQLiteLedger)
    assert default.inner.path == str(tmp_path / "h" / "ledger.sqlite3")
    assert default.spool.path == tmp_path / "h" / "ledger.sqlite3.spool"
    assert not default.spool.path.exists()  # created only when a record must wait in it
    assert (tmp_path / "h").stat().st_mode & 0o777 == 0o700
    default.close()
    store = budget_store_from_config(BudgetStoreConfig())
    assert isinstance(store, SQLiteBudgetStore)
    assert store.path == str(tmp_path / "h" / "budgets.sqlite3")
    store.close()
    assert isinstance(budget_store_from_config(BudgetStoreConfig(backend="memory")),
                      MemoryBudgetStore)
    redis_store = budget_store_from_config(
        BudgetStoreConfig(backend="redis", url="redis://:pw@127.0.0.1:1/0")  # type: ignore[arg-type]
    )
    assert isinstance(redis_store, RedisBudgetStore)


SECRET = "hunter2-sekrit"


def test_secrets_not_in_config_reprs() -> None:
    cfg = LedgerConfig(backend="postgres", dsn=f"postgresql://u:{SECRET}@h/db")  # type: ignore[arg-type]
    store_cfg = BudgetStoreConfig(backend="redis", url=f"redis://u:{SECRET}@h:1/0")  # type: ignore[arg-type]
    for text in (repr(cfg), str(cfg), repr(store_cfg), cfg.model_dump_json(),
                 store_cfg.model_dump_json()):
        assert SECRET not in text


def test_secrets_not_in_redis_errors() -> None:
    from costroute import BudgetStoreUnavailable
    from costroute.spend import BudgetKey
    from costroute.spend._keys import TOTAL_START

    store = RedisBudgetStore(f"redis://user:{SECRET}@127.0.0.1:1/0", socket_timeout=0.5)
    assert SECRET not in repr(store)
    key = BudgetKey("b", "global", TOTAL_START, None, 10, "block")
    with pytest.raises(BudgetStoreUnavailable) as info:
        store.reserve("r", [key], 1, now=0.0, ttl_s=1)
    assert SECRET not in str(info.value) and "***" in str(info.value)
    store.close()


def test_secrets_not_in_postgres_errors() -> None:
    from costroute import LedgerUnavailable

    ledger = PostgresLedger(f"postgresql://user:{SECRET}@127.0.0.1:1/db?connect_timeout=1")
    with pytest.raises(LedgerUnavailable) as info:
        ledger.ready()
    text = str(info.value) + repr(info.value)
    assert SECRET not in text and "user@127.0.0.1:1/db" in text
    assert info.value.__cause__ is not None and SECRET not in str(info.value.__cause__)
    kw = f"host=127.0.0.1 port=1 user=u password={SECRET} connect_timeout=1"
    with pytest.raises(LedgerUnavailable) as info2:
        PostgresLedger(kw).ready()
    assert SECRET not in str(info2.value)
    with pytest.raises(LedgerUnavailable) as info3:  # a DSN psycopg cannot parse
        PostgresLedger(f"host=127.0.0.1 password={SECRET} junk")
    assert SECRET not in str(info3.value) + repr(info3.value.__cause__)


def test_a_redis_budget_store_takes_its_timeout_from_the_config() -> None:
    from costroute.spend._config import BudgetStoreConfig
    from costroute.spend._view import budget_store_from_config

    store = budget_store_from_config(BudgetStoreConfig(backend="redis", url="redis://127.0.0.1:1/0", timeout_s=42))
    assert store._timeout == 42  # type: ignore[attr-defined]
    assert BudgetStoreConfig(backend="redis", url="redis://x").timeout_s == 5.0
