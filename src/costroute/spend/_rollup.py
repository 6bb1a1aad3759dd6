"""Spend rollups: totals kept at write time per hour × model × policy × tier × status × provider
× service tier × role × tag set, so a summary reads a table whose size follows the traffic's
variety, not its volume.

The database maintains the rollups itself (triggers on each new record), in the insert's
transaction: ``spend_rollup`` without the tag set (small: what summaries without a tag read) and
``spend_rollup_tags`` with it. A summary over ``[since, until)`` reads the whole hours from the rollup and the
partial hours at either edge from the records (through the ``ts`` index), so any range is exact.

Distinct requests are not additive across rollup rows (a retried request has several records),
so a record carries ``multi``: whether its request has more than one record. A request with one
record is counted by the rollup row of that record (``singles``); the requests with several are
counted from their records (``COUNT(DISTINCT request_id)`` over ``multi`` records only: a
partial index keeps that proportional to the retried traffic). When a request's second record
arrives the trigger moves the first one out of ``singles``. Results equal a full scan's exactly
(``tests/spend/test_rollup.py`` checks it property by property).

A tag set with a unique value per request (a trace id as a tag) makes the rollup as large as the
ledger: summaries stay correct, only not faster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from ._ledger import SummaryRow, check_group_by, row_from

__all__ = ["DIMS", "HOUR_MICROS", "ROLLUPS", "SUMS", "RollupDialect", "RollupQuery", "combine", "rollup_queries"]

HOUR_MICROS = 3_600_000_000
DIMS = ("model", "policy", "tier", "status", "provider", "service_tier", "role", "tags")
# two rollups: one without the tag set (small: what most summaries need), one with it
ROLLUPS = (("spend_rollup", DIMS[:-1]), ("spend_rollup_tags", DIMS))
SUMS = (
    "attempts", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
    "reasoning_tokens", "cost_micros", "baseline_micros", "saved_micros", "cache_hits", "errors",
    "estimated",
)
_NAMES = (  # SUMS as row_from names them
    "attempts", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
    "reasoning_tokens", "cost_usd", "baseline_cost_usd", "saved_usd", "cache_hits", "errors",
    "estimated",
)
_ROLLUP_AGG = ("SUM(singles)", *(f"SUM({s})" for s in SUMS))
_RAW_AGG = (
    "SUM(CASE WHEN multi THEN 0 ELSE 1 END)", "COUNT(*)", "SUM(input_tokens)",
    "SUM(cache_read_tokens)", "SUM(cache_write_tokens)", "SUM(output_tokens)",
    "SUM(reasoning_tokens)", "SUM(cost_micros)", "SUM(baseline_micros)", "SUM(saved_micros)",
    "SUM(CASE WHEN status = 'cache_hit' THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN estimated OR status = 'estimated' THEN 1 ELSE 0 END)",
)


@dataclass(frozen=True)
class RollupDialect:
    """What differs between SQLite and PostgreSQL for the rollup queries."""

    ph: str
    ts_out: Any  # Callable[[datetime], Any]
    tag_expr: Any  # Callable[[str], tuple[str, Any]], over a ``tags`` column
    day_of: Any  # Callable[[str], str]: the UTC date of a timestamp column
    multi_true: str  # the SQL literal for a true ``multi``


@dataclass(frozen=True)
class RollupQuery:
    kind: str  # "sums" (singles + sums) or "multi" (distinct multi-record requests)
    sql: str
    params: list[Any]


def _floor_hour(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def _ceil_hour(ts: datetime) -> datetime:
    floor = _floor_hour(ts)
    return floor if floor == ts else floor + timedelta(hours=1)


class FilterDialect(Protocol):
    """What a WHERE clause over records or rollups needs of a dialect (both ledgers' have it)."""

    @property
    def ph(self) -> str: ...
    @property
    def ts_out(self) -> Any: ...
    @property
    def tag_expr(self) -> Any: ...


def where_clause(
    d: FilterDialect, col: str, since: datetime | None, until: datetime | None,
    tags: Mapping[str, str] | None, model: str | None, policy: str | None,
    extra: Sequence[str] = (),
) -> tuple[str, list[Any]]:
    clauses: list[str] = list(extra)
    params: list[Any] = []
    if since is not None:
        clauses.append(f"{col} >= {d.ph}")
        params.append(d.ts_out(since))
    if until is not None:
        clauses.append(f"{col} < {d.ph}")
        params.append(d.ts_out(until))
    if model is not None:
        clauses.append(f"model = {d.ph}")
        params.append(model)
    if policy is not None:
        clauses.append(f"policy = {d.ph}")
        params.append(policy)
    for name, value in (tags or {}).items():
        expr, param = d.tag_expr(name)
        clauses.append(f"{expr} = {d.ph}")
        params += [param, value]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _groups(d: RollupDialect, fields: Sequence[str], col: str) -> tuple[list[str], list[Any]]:
    exprs: list[str] = []
    params: list[Any] = []
    for name in fields:
        if name == "day":
            exprs.append(d.day_of(col))
        elif name.startswith("tag:"):
            expr, param = d.tag_expr(name[4:])
            exprs.append(f"COALESCE({expr}, '')")
            params.append(param)
        else:
            exprs.append(name)
    return exprs, params


def _select(
    d: RollupDialect, table: str, col: str, aggs: Sequence[str], fields: Sequence[str],
    since: datetime | None, until: datetime | None, filters: Mapping[str, Any],
    extra: Sequence[str] = (),
) -> tuple[str, list[Any]]:
    exprs, gparams = _groups(d, fields, col)
    where, wparams = where_clause(d, col, since, until, extra=extra, **filters)
    sql = f"SELECT {', '.join([*exprs, *aggs])} FROM {table}{where}"
    if exprs:
        sql += " GROUP BY " + ", ".join(str(i) for i in range(1, len(exprs) + 1))
    return sql, gparams + wparams


def rollup_queries(
    d: RollupDialect, *, group_by: Sequence[str] = (), since: datetime | None = None,
    until: datetime | None = None, tags: Mapping[str, str] | None = None,
    model: str | None = None, policy: str | None = None,
) -> list[RollupQuery]:
    """The queries whose rows :func:`combine` adds up into the summary."""
    fields = check_group_by(group_by)
    filters: dict[str, Any] = {"tags": tags, "model": model, "policy": policy}
    tagged = bool(tags) or any(f.startswith("tag:") for f in fields)
    rollup = ROLLUPS[1][0] if tagged else ROLLUPS[0][0]
    lo = None if since is None else _ceil_hour(since)
    hi = None if until is None else _floor_hour(until)
    out: list[RollupQuery] = []
    if lo is not None and hi is not None and lo >= hi:  # inside one hour: the records alone
        out.append(RollupQuery("sums", *_select(d, "spend_records", "ts", _RAW_AGG, fields, since, until, filters)))
    else:
        out.append(RollupQuery("sums", *_select(d, rollup, "bucket", _ROLLUP_AGG, fields, lo, hi, filters)))
        if since is not None and lo is not None and since < lo:
            out.append(RollupQuery("sums", *_select(d, "spend_records", "ts", _RAW_AGG, fields, since, lo, filters)))
        if until is not None and hi is not None and hi < until:
            out.append(RollupQuery("sums", *_select(d, "spend_records", "ts", _RAW_AGG, fields, hi, until, filters)))
    out.append(RollupQuery("multi", *_select(
        d, "spend_records", "ts", ("COUNT(DISTINCT request_id)",), fields, since, until, filters,
        extra=(f"multi = {d.multi_true}",),
    )))
    return out


def combine(
    results: Sequence[tuple[str, Sequence[Sequence[Any]]]], group_by: Sequence[str]
) -> list[SummaryRow]:
    """Add up the rows of :func:`rollup_queries` (``(kind, rows)`` each) into summary rows,
    sorted by group values; groups without records are left out, as a scan leaves them."""
    n = len(group_by)
    sums: dict[tuple[str, ...], list[int]] = {}
    multi: dict[tuple[str, ...], int] = {}
    for kind, rows in results:
        for row in rows:
            key = tuple(str(v) for v in row[:n])
            if kind == "multi":
                multi[key] = multi.get(key, 0) + int(row[n] or 0)
                continue
            acc = sums.setdefault(key, [0] * (1 + len(SUMS)))
            for i, v in enumerate(row[n:]):
                acc[i] += int(v or 0)
    out = [
        row_from(dict(zip(group_by, key, strict=True)), acc[0] + multi.get(key, 0),
                 dict(zip(_NAMES, acc[1:], strict=True)))
        for key, acc in sums.items() if acc[1] > 0
    ]
    return sorted(out, key=lambda r: tuple(r.group.values()))
