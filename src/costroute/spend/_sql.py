"""SQL shared by the SQLite and PostgreSQL ledgers: the row codec and the query builders.

The two dialects differ only in placeholders, how a timestamp is stored, how a tag is read from
the JSON column and how a UTC day is computed; :class:`Dialect` captures exactly that.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ._ledger import SummaryRow, check_group_by, row_from
from ._money import from_micros, to_micros
from ._records import Feedback, SpendRecord, Tags
from ._rollup import where_clause

__all__ = [
    "COLUMNS",
    "FEEDBACK_EFFECTIVE",
    "FEEDBACK_ENTRIES",
    "Dialect",
    "decode",
    "effective_from_rows",
    "encode",
    "feedback_from_rows",
    "feedback_upsert",
    "micros_from_utc",
    "records_query",
    "summary_query",
    "summary_rows",
    "utc_from_micros",
]

COLUMNS = (
    "request_id", "attempt", "ts", "model", "provider", "status", "policy", "tier", "difficulty",
    "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
    "reasoning_tokens", "cost_micros", "baseline_micros", "saved_micros", "input_per_mtok",
    "output_per_mtok", "price_source", "latency_ms", "tags", "prompt_hash", "prompt_text",
    "error", "estimated", "service_tier", "batch_id", "role", "step", "verdict",
    "parent_request_id", "answer_text",
)


@dataclass(frozen=True)
class Dialect:
    ph: str  # placeholder
    ts_out: Callable[[datetime], Any]  # Python datetime -> stored value
    ts_in: Callable[[Any], datetime]  # stored value -> aware UTC datetime
    tag_expr: Callable[[str], tuple[str, Any]]  # tag name -> (SQL expression, parameter)
    day_expr: str
    decimal_out: Callable[[Decimal], Any]
    tags_out: Callable[[str], Any]


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def encode(record: SpendRecord, d: Dialect, *, store_prompts: bool) -> tuple[Any, ...]:
    """A record as a row in :data:`COLUMNS` order."""
    r = record
    return (
        r.request_id, r.attempt, d.ts_out(r.ts), r.model, r.provider, r.status, r.policy, r.tier,
        r.difficulty, r.input_tokens, r.cache_read_tokens, r.cache_write_tokens, r.output_tokens,
        r.reasoning_tokens, to_micros(r.cost_usd), to_micros(r.baseline_cost_usd),
        to_micros(r.saved_usd),
        None if r.input_per_mtok is None else d.decimal_out(r.input_per_mtok),
        None if r.output_per_mtok is None else d.decimal_out(r.output_per_mtok),
        r.price_source, r.latency_ms, d.tags_out(json.dumps(dict(r.tags), sort_keys=True)),
        r.prompt_hash, r.prompt_text if store_prompts else None, r.error, bool(r.estimated),
        r.service_tier, r.batch_id, r.role, int(r.step), r.verdict, r.parent_request_id,
        r.answer_text if store_prompts else None,
    )


def decode(row: Sequence[Any], d: Dialect) -> SpendRecord:
    """A row in :data:`COLUMNS` order back to a record."""
    v = dict(zip(COLUMNS, row, strict=True))
    tags = v["tags"] if isinstance(v["tags"], dict) else json.loads(v["tags"])
    return SpendRecord(
        request_id=v["request_id"], attempt=int(v["attempt"]), ts=d.ts_in(v["ts"]),
        model=v["model"], provider=v["provider"], status=v["status"], policy=v["policy"],
        tier=v["tier"], difficulty=v["difficulty"], input_tokens=v["input_tokens"],
        cache_read_tokens=v["cache_read_tokens"], cache_write_tokens=v["cache_write_tokens"],
        output_tokens=v["output_tokens"], reasoning_tokens=v["reasoning_tokens"],
        cost_usd=from_micros(v["cost_micros"]), baseline_cost_usd=from_micros(v["baseline_micros"]),
        saved_usd=from_micros(v["saved_micros"]), input_per_mtok=_dec(v["input_per_mtok"]),
        output_per_mtok=_dec(v["output_per_mtok"]), price_source=v["price_source"],
        latency_ms=float(v["latency_ms"]), tags=Tags(tags), prompt_hash=v["prompt_hash"],
        prompt_text=v["prompt_text"], error=v["error"], estimated=bool(v["estimated"]),
        service_tier=v["service_tier"], batch_id=v["batch_id"], role=v["role"], step=int(v["step"]),
        verdict=v["verdict"], parent_request_id=v["parent_request_id"], answer_text=v["answer_text"],
    )


def _where(
    d: Dialect, *, since: datetime | None, until: datetime | None,
    tags: Mapping[str, str] | None, model: str | None, policy: str | None,
) -> tuple[str, list[Any]]:
    return where_clause(d, "ts", since, until, tags, model, policy)


def records_query(
    d: Dialect, *, since: datetime | None = None, until: datetime | None = None,
    tags: Mapping[str, str] | None = None, model: str | None = None,
    policy: str | None = None, limit: int | None = None,
) -> tuple[str, list[Any]]:
    where, params = _where(d, since=since, until=until, tags=tags, model=model, policy=policy)
    sql = f"SELECT {', '.join(COLUMNS)} FROM spend_records{where} ORDER BY ts, id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, params


_AGG = (
    "COUNT(DISTINCT request_id)", "COUNT(*)", "SUM(input_tokens)", "SUM(cache_read_tokens)",
    "SUM(cache_write_tokens)", "SUM(output_tokens)", "SUM(reasoning_tokens)",
    "SUM(cost_micros)", "SUM(baseline_micros)", "SUM(saved_micros)",
    "SUM(CASE WHEN status = 'cache_hit' THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN estimated OR status = 'estimated' THEN 1 ELSE 0 END)",
)
_AGG_NAMES = (
    "attempts", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
    "reasoning_tokens", "cost_usd", "baseline_cost_usd", "saved_usd", "cache_hits", "errors",
    "estimated",
)


def summary_query(
    d: Dialect, *, group_by: Sequence[str] = (), since: datetime | None = None,
    until: datetime | None = None, tags: Mapping[str, str] | None = None,
    model: str | None = None, policy: str | None = None,
) -> tuple[str, list[Any]]:
    fields = check_group_by(group_by)
    exprs: list[str] = []
    params: list[Any] = []
    for name in fields:
        if name == "day":
            exprs.append(d.day_expr)
        elif name.startswith("tag:"):
            expr, param = d.tag_expr(name[4:])
            exprs.append(f"COALESCE({expr}, '')")
            params.append(param)
        else:
            exprs.append(name)
    where, wparams = _where(d, since=since, until=until, tags=tags, model=model, policy=policy)
    sql = f"SELECT {', '.join([*exprs, *_AGG])} FROM spend_records{where}"
    if exprs:
        sql += " GROUP BY " + ", ".join(str(i) for i in range(1, len(exprs) + 1))
    else:
        sql += " HAVING COUNT(*) > 0"
    return sql, params + wparams


def summary_rows(rows: Sequence[Sequence[Any]], group_by: Sequence[str]) -> list[SummaryRow]:
    """Rows of :func:`summary_query` as summary rows, sorted by group values."""
    n = len(group_by)
    out = [
        row_from(
            dict(zip(group_by, (str(v) for v in row[:n]), strict=True)),
            int(row[n]),
            dict(zip(_AGG_NAMES, (int(v or 0) for v in row[n + 1:]), strict=True)),
        )
        for row in rows
    ]
    return sorted(out, key=lambda r: tuple(r.group.values()))


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def utc_from_micros(value: Any) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


def micros_from_utc(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# -- feedback: both dialects ------------------------------------------------------------------
_ANSWER_MODEL = (
    "SELECT r.model FROM spend_records r WHERE r.request_id = f.request_id AND r.role = 'answer'"
    " AND r.status IN ('ok', 'cache_hit', 'estimated') ORDER BY r.attempt DESC LIMIT 1"
)
FEEDBACK_ENTRIES = (
    f"SELECT f.request_id, f.score, f.source, f.model, f.ts, COALESCE(({_ANSWER_MODEL}), '')"
    " FROM feedback f ORDER BY f.request_id, f.source"
)
# judge scores first, so that an app score read later overrides them
FEEDBACK_EFFECTIVE = "SELECT request_id, score FROM feedback ORDER BY (source = 'app'), request_id"


def feedback_upsert(d: Dialect) -> str:
    p = d.ph
    return (
        f"INSERT INTO feedback (request_id, source, score, ts, model) VALUES ({p}, {p}, {p}, {p}, {p})"
        " ON CONFLICT (request_id, source) DO UPDATE SET score = excluded.score, ts = excluded.ts,"
        " model = excluded.model"
    )


def feedback_from_rows(rows: Sequence[Sequence[Any]], d: Dialect) -> list[Feedback]:
    """Rows of :data:`FEEDBACK_ENTRIES` as feedback entries (the model read from the answer
    record when none was given)."""
    return [
        Feedback(str(r[0]), float(r[1]), r[2], str(r[3] or r[5]), d.ts_in(r[4])) for r in rows
    ]


def effective_from_rows(rows: Sequence[Sequence[Any]]) -> dict[str, float]:
    """Rows of :data:`FEEDBACK_EFFECTIVE` as ``{request_id: score}``."""
    return {str(r[0]): float(r[1]) for r in rows}
