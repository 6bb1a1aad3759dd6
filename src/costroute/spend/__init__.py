"""costroute.spend: the spend ledger and budgets.

* :class:`Ledger` backends (:class:`MemoryLedger`, :class:`SQLiteLedger`,
  :class:`PostgresLedger`) keep one :class:`SpendRecord` per billed attempt, and
  :class:`Feedback` labels; a :class:`SpooledLedger` around a database keeps the records it
  cannot take in a local spool until it is back. :class:`SpendView` reads them
  (``client.spend``).
* :class:`Budgets` reserves an estimate before a call and settles the actual cost after, over a
  :class:`BudgetStore` (:class:`MemoryBudgetStore`, :class:`SQLiteBudgetStore`,
  :class:`RedisBudgetStore`).

Importing this package imports neither redis nor psycopg: they load when a backend is built.
"""

from __future__ import annotations

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
from ._postgres_ledger import PostgresLedger
from ._records import (
    Feedback,
    FeedbackSource,
    Role,
    ServiceTier,
    SpendRecord,
    Status,
    Tags,
)
from ._redis_store import RedisBudgetStore
from ._spool import SpooledLedger
from ._sqlite_ledger import SQLiteLedger
from ._sqlite_store import SQLiteBudgetStore
from ._store import BudgetState, BudgetStore, CounterState, MemoryBudgetStore, ReserveOutcome
from ._view import SpendView, budget_store_from_config, ledger_from_config

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
    "Feedback",
    "FeedbackSource",
    "Ledger",
    "LedgerConfig",
    "MemoryBudgetStore",
    "MemoryLedger",
    "Period",
    "PostgresLedger",
    "RedisBudgetStore",
    "Reservation",
    "ReserveOutcome",
    "Role",
    "SQLiteBudgetStore",
    "SQLiteLedger",
    "ServiceTier",
    "SpendRecord",
    "SpendView",
    "SpooledLedger",
    "Status",
    "SummaryRow",
    "Tags",
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

