"""The spend dashboard: one self-contained HTML page with server-side inline SVG charts.

No script, no stylesheet or font from anywhere: the page renders offline. Every chart's numbers
are printed as text too (a table under each chart), and every string from the ledger (model
names, tag values, budget names) is escaped.

- :func:`render_dashboard` is pure: :class:`DashboardData` in, HTML out.
- :func:`dashboard_page` gathers the data of an :class:`~costroute.AsyncClient` without blocking
  its event loop (the ledger's async summaries; a budget store's snapshot in a worker thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING

from ..spend import BudgetState, SummaryRow

if TYPE_CHECKING:
    from .._client import AsyncClient

__all__ = ["DashboardData", "dashboard_page", "render_dashboard"]

_SPEND, _SAVED, _HIT, _MISS, _RESERVED, _FREE = "#2563eb", "#16a34a", "#9333ea", "#e5e7eb", "#f59e0b", "#e5e7eb"
_W = 640  # chart width in px


@dataclass(frozen=True, slots=True)
class DashboardData:
    """What the page shows: summaries per day, per model and per tag, the total, and budgets."""

    by_day: Sequence[SummaryRow]
    by_model: Sequence[SummaryRow]
    by_tag: Mapping[str, Sequence[SummaryRow]]
    total: SummaryRow
    budgets: Sequence[BudgetState] = ()
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    title: str = "costroute spend"


def _usd(value: Decimal) -> str:
    return f"${value:,.6f}" if abs(value) < 1 else f"${value:,.2f}"


def _pct(part: float, whole: float) -> float:
    return 0.0 if whole <= 0 else 100.0 * part / whole


def _hit_rate(row: SummaryRow) -> float:
    return _pct(row.cache_hits, row.requests)


def _table(chart: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="values" data-chart="{chart}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _figure(chart: str, title: str, svg: str, table: str) -> str:
    return (f'<section class="chart" id="{chart}"><h2>{escape(title)}</h2>{svg}{table}</section>')


def _svg(chart: str, height: int, body: str, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="{chart}" width="{_W}" height="{height}" '
            f'viewBox="0 0 {_W} {height}" role="img" aria-label="{escape(label)}">'
            f'<rect width="{_W}" height="{height}" fill="#ffffff"/>{body}</svg>')


def _empty(chart: str, title: str) -> str:
    svg = _svg(chart, 40, '<text x="10" y="25" font-size="14" fill="#6b7280">no records yet</text>', title)
    return _figure(chart, title, svg, _table(chart, ("",), ()))


def _spend_over_time(rows: Sequence[SummaryRow]) -> str:
    """Spend and savings per day: two bars per day."""
    chart, title = "chart-over-time", "Spend and savings over time (per UTC day)"
    if not rows:
        return _empty(chart, title)
    height, top, bottom, left = 220, 20, 40, 10
    peak = max(max(r.cost_usd, r.saved_usd, Decimal(0)) for r in rows) or Decimal(1)
    slot = (_W - 2 * left) / len(rows)
    bar = max(2.0, min(40.0, slot / 2 - 4))
    parts = []
    for i, r in enumerate(rows):
        x = left + i * slot + slot / 2 - bar
        for j, (value, colour, kind) in enumerate(((r.cost_usd, _SPEND, "spend"), (r.saved_usd, _SAVED, "saved"))):
            h = float(max(value, Decimal(0)) / peak) * (height - top - bottom)
            day = escape(r.group.get("day", ""))
            parts.append(f'<rect class="bar {kind}" data-day="{day}" data-value="{value}" x="{x + j * bar:.1f}" '
                         f'y="{height - bottom - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{day} {kind} {escape(_usd(value))}</title></rect>')
        parts.append(f'<text x="{left + i * slot + slot / 2:.1f}" y="{height - bottom + 16}" font-size="11" '
                     f'text-anchor="middle">{escape(r.group.get("day", ""))}</text>')
    parts.append(f'<rect x="{_W - 170}" y="4" width="10" height="10" fill="{_SPEND}"/>'
                 f'<text x="{_W - 155}" y="13" font-size="11">spend</text>'
                 f'<rect x="{_W - 100}" y="4" width="10" height="10" fill="{_SAVED}"/>'
                 f'<text x="{_W - 85}" y="13" font-size="11">saved</text>')
    table = _table(chart, ("day", "requests", "spend", "saved", "cache hit rate"),
                   [(r.group.get("day", ""), str(r.requests), _usd(r.cost_usd), _usd(r.saved_usd),
                     f"{_hit_rate(r):.1f}%") for r in rows])
    return _figure(chart, title, _svg(chart, height, "".join(parts), title), table)


def _bars(chart: str, title: str, key: str, rows: Sequence[SummaryRow]) -> str:
    """Spend per group as horizontal bars, largest first."""
    if not rows:
        return _empty(chart, title)
    ordered = sorted(rows, key=lambda r: r.cost_usd, reverse=True)
    peak = max(r.cost_usd for r in ordered) or Decimal(1)
    row_h, label_w = 26, 220
    height = row_h * len(ordered) + 10
    parts = []
    for i, r in enumerate(ordered):
        name = escape(r.group.get(key, "") or "(none)")
        w = float(max(r.cost_usd, Decimal(0)) / peak) * (_W - label_w - 120)
        y = 5 + i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" font-size="12" text-anchor="end">{name}</text>'
                     f'<rect class="bar spend" data-group="{name}" data-value="{r.cost_usd}" x="{label_w}" '
                     f'y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{_SPEND}"/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" font-size="12">{escape(_usd(r.cost_usd))}</text>')
    table = _table(chart, (key, "requests", "spend", "saved", "cache hits"),
                   [(r.group.get(key, "") or "(none)", str(r.requests), _usd(r.cost_usd), _usd(r.saved_usd),
                     str(r.cache_hits)) for r in ordered])
    return _figure(chart, title, _svg(chart, height, "".join(parts), title), table)


def _cache_rate(total: SummaryRow) -> str:
    """The share of requests answered from the cache, as one stacked bar."""
    chart, title = "chart-cache", "Cache hit rate"
    rate = _hit_rate(total)
    w = (_W - 20) * rate / 100
    svg = _svg(chart, 60, (f'<rect x="10" y="10" width="{_W - 20}" height="24" fill="{_MISS}"/>'
                           f'<rect class="bar hits" data-value="{rate:.1f}" x="10" y="10" width="{w:.1f}" '
                           f'height="24" fill="{_HIT}"/>'
                           f'<text x="10" y="52" font-size="12">{rate:.1f}% of {total.requests} requests</text>'),
               title)
    table = _table(chart, ("requests", "cache hits", "hit rate"),
                   [(str(total.requests), str(total.cache_hits), f"{rate:.1f}%")])
    return _figure(chart, title, svg, table)


def _gauges(budgets: Sequence[BudgetState]) -> str:
    """Each budget counter: spent and reserved against its limit."""
    chart, title = "chart-budgets", "Budgets"
    if not budgets:
        return _empty(chart, title)
    row_h, label_w = 34, 220
    height = row_h * len(budgets) + 10
    span = _W - label_w - 20
    parts = []
    for i, b in enumerate(budgets):
        limit = b.limit if b.limit > 0 else Decimal(1)
        used = float(min(b.spent / limit, Decimal(1))) * span
        held = float(min(b.reserved / limit, Decimal(1))) * span
        held = min(held, span - used)
        y = 5 + i * row_h
        name = escape(f"{b.budget} · {b.scope_key}")
        parts.append(f'<text x="{label_w - 6}" y="{y + 18}" font-size="12" text-anchor="end">{name}</text>'
                     f'<rect x="{label_w}" y="{y + 6}" width="{span}" height="18" fill="{_FREE}"/>'
                     f'<rect class="gauge spent" data-budget="{escape(b.budget)}" data-value="{b.spent}" '
                     f'x="{label_w}" y="{y + 6}" width="{used:.1f}" height="18" fill="{_SPEND}"/>'
                     f'<rect class="gauge reserved" x="{label_w + used:.1f}" y="{y + 6}" width="{held:.1f}" '
                     f'height="18" fill="{_RESERVED}"/>')
    table = _table(chart, ("budget", "scope", "limit", "spent", "reserved", "remaining", "used", "resets"),
                   [(b.budget, b.scope_key, _usd(b.limit), _usd(b.spent), _usd(b.reserved), _usd(b.remaining),
                     f"{_pct(float(b.spent + b.reserved), float(b.limit)):.1f}%",
                     b.resets_at.strftime("%Y-%m-%d %H:%M UTC") if b.resets_at else "never") for b in budgets])
    return _figure(chart, title, _svg(chart, height, "".join(parts), title), table)


_STYLE = ("body{font-family:system-ui,sans-serif;margin:24px;color:#111827;background:#f9fafb}"
          ".chart{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;margin:16px 0}"
          "h2{font-size:16px;margin:0 0 8px}table{border-collapse:collapse;margin-top:8px;font-size:13px}"
          "td,th{border-bottom:1px solid #e5e7eb;padding:3px 10px;text-align:left}"
          ".totals{display:flex;gap:24px}.totals div{font-size:14px}.totals b{font-size:20px;display:block}")


def render_dashboard(data: DashboardData) -> str:
    """The whole page (UTF-8 HTML, no external resource)."""
    t = data.total
    totals = (f'<div class="totals" id="totals"><div>spend<b id="total-spend">{escape(_usd(t.cost_usd))}</b></div>'
              f'<div>saved vs baseline<b id="total-saved">{escape(_usd(t.saved_usd))}</b></div>'
              f'<div>baseline<b>{escape(_usd(t.baseline_cost_usd))}</b></div>'
              f'<div>requests<b id="total-requests">{t.requests}</b></div>'
              f'<div>errors<b>{t.errors}</b></div></div>')
    tags = "".join(_bars(f"chart-tag-{i}", f"Spend by tag: {name}", f"tag:{name}", rows)
                   for i, (name, rows) in enumerate(sorted(data.by_tag.items())))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(data.title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{escape(data.title)}</h1>"
            f"<p>generated {escape(data.generated_at.strftime('%Y-%m-%d %H:%M:%S UTC'))}</p>{totals}"
            + _spend_over_time(data.by_day) + _bars("chart-by-model", "Spend by model", "model", data.by_model)
            + tags + _cache_rate(t) + _gauges(data.budgets) + "</body></html>")


async def dashboard_page(client: AsyncClient, *, days: int = 30, tag_keys: Sequence[str] | None = None,
                         now: datetime | None = None) -> str:
    """The dashboard of ``client``'s ledger over the last ``days`` days. ``tag_keys`` are the tags
    to chart (default: those on the latest 1,000 records)."""
    ledger = client.spend.ledger
    since = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    if tag_keys is None:
        recent = await ledger.arecords(since=since, limit=1000)
        tag_keys = sorted({k for r in recent for k in r.tags})
    by_day, by_model, total, *by_tag = await asyncio.gather(
        ledger.asummary(group_by=["day"], since=since), ledger.asummary(group_by=["model"], since=since),
        ledger.asummary(since=since), *(ledger.asummary(group_by=[f"tag:{k}"], since=since) for k in tag_keys))
    budgets = client.budgets
    states = await asyncio.to_thread(budgets.snapshot) if budgets is not None else []
    return render_dashboard(DashboardData(
        by_day=by_day, by_model=by_model, by_tag=dict(zip(tag_keys, by_tag, strict=True)),
        total=total[0] if total else SummaryRow(), budgets=states,
        generated_at=now or datetime.now(timezone.utc)))
