"""Configuration of the ledger, the budgets and the budget store (embedded in the top-level config).

``ledger:``, ``budgets:`` (a list) and ``budget_store:`` in the costroute configuration validate
against :class:`LedgerConfig`, :class:`BudgetConfig` and :class:`BudgetStoreConfig`. The default
embedded files live in :func:`default_data_dir`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = [
    "Action",
    "BudgetConfig",
    "BudgetStoreConfig",
    "LedgerConfig",
    "Period",
    "default_budget_store_path",
    "default_data_dir",
    "default_ledger_path",
]

Period = Literal["hour", "day", "week", "month", "total"]
Action = Literal["block", "downgrade", "warn"]

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_TAG_SCOPE = re.compile(r"^tag:[A-Za-z0-9_.\-]+$")


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the embedded stores live: ``$COSTROUTE_HOME``, else ``~/.local/share/costroute``.

    ``environ`` defaults to ``os.environ``; this is the only place the spend package reads it.
    """
    env = os.environ if environ is None else environ
    home = env.get("COSTROUTE_HOME")
    if home:
        return Path(home).expanduser()
    return Path("~/.local/share/costroute").expanduser()


def default_ledger_path(environ: Mapping[str, str] | None = None) -> Path:
    """The default SQLite ledger: ``<data dir>/ledger.sqlite3``."""
    return default_data_dir(environ) / "ledger.sqlite3"


def default_budget_store_path(environ: Mapping[str, str] | None = None) -> Path:
    """The default SQLite budget store: ``<data dir>/budgets.sqlite3``."""
    return default_data_dir(environ) / "budgets.sqlite3"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LedgerConfig(_Frozen):
    """``ledger:`` — where spend records go. ``path`` defaults to :func:`default_ledger_path`.

    ``timeout_s`` bounds every wait on the database (a locked SQLite file, a PostgreSQL server
    that is down or frozen): past it the operation fails with ``LedgerUnavailable``.
    """

    backend: Literal["memory", "sqlite", "postgres"] = "sqlite"
    path: str | None = None
    dsn: SecretStr | None = None
    store_prompts: bool = False
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 5.0

    @model_validator(mode="after")
    def _dsn_for_postgres(self) -> LedgerConfig:
        if self.backend == "postgres" and self.dsn is None:
            raise ValueError("backend 'postgres' needs `dsn`")
        return self


class BudgetStoreConfig(_Frozen):
    """``budget_store:`` — where budget counters live. ``path`` defaults to the data dir."""

    backend: Literal["memory", "sqlite", "redis"] = "sqlite"
    path: str | None = None
    url: SecretStr | None = None
    reservation_ttl_s: Annotated[int, Field(gt=0)] = 600
    #: how long one Redis call may take (connect or reply) before the store counts as unavailable
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 5.0

    @model_validator(mode="after")
    def _url_for_redis(self) -> BudgetStoreConfig:
        if self.backend == "redis" and self.url is None:
            raise ValueError("backend 'redis' needs `url`")
        return self


class BudgetConfig(_Frozen):
    """One entry of ``budgets:``.

    ``scope`` is ``global``, ``tag:<name>`` (one counter per value of that tag; requests without
    the tag are not limited), ``policy`` or ``model`` (one counter per policy / model).
    """

    name: str
    limit_usd: Annotated[Decimal, Field(gt=0)]
    period: Period = "month"
    scope: str = "global"
    on_exceed: Action = "block"
    alerts: list[Annotated[float, Field(gt=0, le=1)]] = Field(default_factory=list)
    timezone: str = "UTC"

    @field_validator("name")
    @classmethod
    def _name_ok(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use letters, digits, '_', '.' and '-' only")
        return value

    @field_validator("scope")
    @classmethod
    def _scope_ok(cls, value: str) -> str:
        if value in ("global", "policy", "model") or _TAG_SCOPE.match(value):
            return value
        raise ValueError("scope must be 'global', 'policy', 'model' or 'tag:<name>'")

    @field_validator("alerts")
    @classmethod
    def _alerts_sorted(cls, value: list[float]) -> list[float]:
        return sorted(set(value))

    @field_validator("timezone")
    @classmethod
    def _zone_ok(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value
