"""costroute.spend: the spend ledger and budgets.

* :class:`Ledger` backends (:class:`MemoryLedger`, :class:`SQLiteLedger`,
  :class:`PostgresLedger`) keep one :class:`SpendRecord` per billed attempt;
  :class:`SpendView` reads them (``client.spend``).
* :class:`Budgets` reserves an estimate before a call and settles the actual cost after, over a
  :class:`BudgetStore` (:class:`MemoryBudgetStore`, :class:`SQLiteBudgetStore`,
  :class:`RedisBudgetStore`).

Importing this package imports neither redis nor psycopg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._budgets import AlertEvent, Budgets, Reservation
from ._config import (
    Action,
    BudgetConfig,
    BudgetStoreConfig,
    LedgerConfig,
    Period,
    default_budget_store_path,
    default_data_dir,
    default_ledger_path,
)
from ._export import export_csv, export_jsonl, record_to_dict
from ._keys import BudgetKey, budget_keys, period_bounds
from ._ledger import Ledger, MemoryLedger, SummaryRow, summarize
from ._money import from_micros, to_micros
from ._records import SpendRecord, Status
from ._sqlite_ledger import SQLiteLedger
from ._sqlite_store import SQLiteBudgetStore
from ._store import BudgetState, BudgetStore, CounterState, MemoryBudgetStore, ReserveOutcome
from ._view import SpendView, budget_store_from_config, ledger_from_config

if TYPE_CHECKING:
    from ._postgres_ledger import PostgresLedger
    from ._redis_store import RedisBudgetStore

__all__ = [
    "Action",
    "AlertEvent",
    "BudgetConfig",
    "BudgetKey",
    "BudgetState",
    "BudgetStore",
    "BudgetStoreConfig",
    "Budgets",
    "CounterState",
    "Ledger",
    "LedgerConfig",
    "MemoryBudgetStore",
    "MemoryLedger",
    "Period",
    "PostgresLedger",
    "RedisBudgetStore",
    "Reservation",
    "ReserveOutcome",
    "SQLiteBudgetStore",
    "SQLiteLedger",
    "SpendRecord",
    "SpendView",
    "Status",
    "SummaryRow",
    "budget_keys",
    "budget_store_from_config",
    "default_budget_store_path",
    "default_data_dir",
    "default_ledger_path",
    "export_csv",
    "export_jsonl",
    "from_micros",
    "ledger_from_config",
    "period_bounds",
    "record_to_dict",
    "summarize",
    "to_micros",
]


def __getattr__(name: str) -> Any:
    # The Redis and PostgreSQL backends are loaded on first use; their modules import the
    # client library only when an instance is created.
    if name == "PostgresLedger":
        from ._postgres_ledger import PostgresLedger

        return PostgresLedger
    if name == "RedisBudgetStore":
        from ._redis_store import RedisBudgetStore

        return RedisBudgetStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
