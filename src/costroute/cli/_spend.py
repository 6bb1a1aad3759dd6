"""``costroute spend`` (what was spent, grouped) and ``costroute budget`` (where budgets stand).

Both read the ledger and budget store named by ``--config``, else by ``$COSTROUTE_CONFIG`` (as
``Client()`` and ``costroute route`` do), else the embedded SQLite files (see
:func:`costroute.spend.default_data_dir`); ``spend --ledger PATH`` reads a SQLite ledger file.
Amounts show cents from a dollar up and every micro-dollar below (see :func:`~._console.usd`).
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from .._errors import CostrouteError
from ._console import emit_json, errors_as_messages, stdout, usd_column

if TYPE_CHECKING:
    from ..spend import BudgetConfig, BudgetState, Ledger, SummaryRow

__all__ = [
    "OutputFormat",
    "budget",
    "budget_states",
    "parse_when",
    "register",
    "spend",
    "summary_dicts",
]

_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def parse_when(text: str, *, now: datetime) -> datetime:
    """``7d``, ``12h``, ``30m``, ``2w`` before ``now``, or an ISO date/time (UTC if no zone)."""
    m = _RELATIVE.match(text.strip())
    if m:
        try:
            return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        except OverflowError:
            raise typer.BadParameter(f"{text!r} reaches back before year 1") from None
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither a duration like 7d/12h nor a date like 2026-11-01"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


_COLUMNS = (
    ("requests", "requests"), ("attempts", "attempts"), ("input_tokens", "input tok"),
    ("output_tokens", "output tok"), ("cost_usd", "cost"), ("baseline_cost_usd", "baseline"),
    ("saved_usd", "saved"), ("cache_hits", "cache hits"), ("errors", "errors"),
    ("estimated", "estimated"),
)


def summary_dicts(rows: Sequence[SummaryRow], group_by: Sequence[str]) -> list[dict[str, Any]]:
    """Summary rows as flat dicts: the group fields, then the totals (money as strings)."""
    out = []
    for row in rows:
        item: dict[str, Any] = {name: row.group.get(name, "") for name in group_by}
        for attr, _ in _COLUMNS:
            value = getattr(row, attr)
            item[attr] = str(value) if isinstance(value, Decimal) else value
        out.append(item)
    return out


def _config(path: Path | None) -> Any:
    """``--config``, else ``$COSTROUTE_CONFIG``, else the defaults (the embedded SQLite files)."""
    from ..policies import load_config

    path = path or (Path(os.environ["COSTROUTE_CONFIG"]) if os.environ.get("COSTROUTE_CONFIG") else None)
    return load_config(path) if path is not None else load_config({})


def _open_ledger(ledger_path: Path | None, config: Path | None) -> Ledger:
    from ..spend import SQLiteLedger, ledger_from_config

    if ledger_path is not None:
        if not ledger_path.is_file():  # reading must not create an empty ledger at a mistyped path
            raise CostrouteError(f"{ledger_path}: no ledger file there")
        return SQLiteLedger(ledger_path)
    return ledger_from_config(_config(config).ledger)


def spend(
    by: Annotated[
        list[str] | None,
        typer.Option("--by", help="Group by model, policy, tier, status, day, provider or tag:NAME."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="Start: 7d, 12h, or 2026-11-01.")] = None,
    until: Annotated[str | None, typer.Option(help="End (exclusive), same forms as --since.")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
    ledger: Annotated[Path | None, typer.Option(help="A SQLite ledger file to read.")] = None,
    config: Annotated[Path | None, typer.Option(help="costroute config file (default: $COSTROUTE_CONFIG).")] = None,
) -> None:
    """What was spent: requests, tokens, cost, baseline and savings, grouped."""
    from ..spend import SpendView

    group_by = list(by or [])
    now = datetime.now(timezone.utc)
    start = parse_when(since, now=now) if since else None
    end = parse_when(until, now=now) if until else None
    with errors_as_messages():
        store = _open_ledger(ledger, config)
        try:
            rows = SpendView(store).summary(group_by=group_by, since=start, until=end)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--by") from None
        finally:
            store.close()
    items = summary_dicts(rows, group_by)
    if fmt is OutputFormat.json:
        emit_json(items)
    elif fmt is OutputFormat.csv:
        writer = csv.DictWriter(
            sys.stdout, fieldnames=[*group_by, *(a for a, _ in _COLUMNS)], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(items)
    else:
        _spend_table(rows, group_by)


def _spend_table(rows: Sequence[SummaryRow], group_by: Sequence[str]) -> None:
    from rich.table import Table

    table = Table(title="costroute spend")
    for name in group_by:
        table.add_column(name)
    for _, title in _COLUMNS:
        table.add_column(title, justify="right")
    money = {attr: usd_column([getattr(row, attr) for row in rows]) for attr, _ in _COLUMNS
             if rows and isinstance(getattr(rows[0], attr), Decimal)}
    for i, row in enumerate(rows):
        cells = [escape(row.group.get(name, "") or "-") for name in group_by]
        for attr, _ in _COLUMNS:
            cells.append(money[attr][i] if attr in money else f"{getattr(row, attr):,}")
        table.add_row(*cells)
    console = stdout()
    if rows:
        console.print(table)
    else:
        console.print("no spend recorded in this range")


def _scope_values(cfg: BudgetConfig, ledger: Ledger, now: datetime) -> list[dict[str, str]]:
    """The request attributes to show a budget for: one per scope value seen this period."""
    from ..spend import period_bounds

    if cfg.scope == "global":
        return [{}]
    start, end = period_bounds(cfg.period, now, cfg.timezone)
    field = cfg.scope  # "policy", "model" or "tag:<name>": also a group-by field
    rows = ledger.summary(group_by=[field], since=start, until=end)
    values = sorted({r.group[field] for r in rows if r.group[field]})
    if cfg.scope.startswith("tag:"):
        return [{"tag": cfg.scope[4:], "value": v} for v in values]
    return [{cfg.scope: v} for v in values]


def budget_states(config: Path | None, *, now: datetime | None = None) -> list[BudgetState]:
    """Every configured budget counter of the current period, for the CLI."""
    from ..spend import budget_keys, budget_store_from_config, ledger_from_config

    at = now or datetime.now(timezone.utc)
    cfg = _config(config)
    ledger = ledger_from_config(cfg.ledger)
    store = budget_store_from_config(cfg.budget_store)
    try:
        states: list[BudgetState] = []
        for b in cfg.budgets:
            for attrs in _scope_values(b, ledger, at):
                tags = {attrs["tag"]: attrs["value"]} if "tag" in attrs else {}
                keys = budget_keys(
                    [b], tags=tags, policy=attrs.get("policy", ""),
                    model=attrs.get("model", ""), now=at,
                )
                states += store.snapshot(keys, now=at.timestamp())
        return states
    finally:
        store.close()
        ledger.close()


def budget(
    config: Annotated[Path | None, typer.Option(help="costroute config file (default: $COSTROUTE_CONFIG).")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
) -> None:
    """Where each budget stands this period: limit, spent, reserved, remaining, reset time."""
    with errors_as_messages():
        states = budget_states(config)
    items = [
        {
            "budget": s.budget, "scope": s.scope_key, "action": s.action, "limit": str(s.limit),
            "spent": str(s.spent), "reserved": str(s.reserved), "remaining": str(s.remaining),
            "resets_at": s.resets_at.isoformat() if s.resets_at else None,
        }
        for s in states
    ]
    if fmt is OutputFormat.json:
        emit_json(items)
        return
    if fmt is OutputFormat.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(items[0]) if items else ["budget"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(items)
        return
    from rich.table import Table

    console = stdout()
    if not states:
        console.print("no budgets configured (add `budgets:` to the config)")
        return
    table = Table(title="costroute budgets")
    for title in ("budget", "scope", "on exceed", "limit", "spent", "reserved", "remaining",
                  "resets at"):
        table.add_column(title, justify="right" if title in (
            "limit", "spent", "reserved", "remaining") else "left")
    amounts = [usd_column([getattr(s, attr) for s in states]) for attr in ("limit", "spent", "reserved", "remaining")]
    for i, s in enumerate(states):
        table.add_row(
            escape(s.budget), escape(s.scope_key), s.action, *(column[i] for column in amounts),
            s.resets_at.strftime("%Y-%m-%d %H:%M UTC") if s.resets_at else "never",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``spend`` and ``budget`` to the ``costroute`` command."""
    app.command("spend")(spend)
    app.command("budget")(budget)
