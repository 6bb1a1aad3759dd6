"""``costroute prices``: a price index across providers, from costroute's pricing registry.

Prices are list prices in US dollars per million tokens, at the default service tier or the one
``--tier`` names (flex, batch, priority). ``blended`` weights input and output like public
inference price indices do (3:1 input:output by default, ``--blend`` to change it). Chat models are
listed by default; ``--mode`` shows embedding, responses-only or other models. ``--cache`` adds the
cached-input and cache-write columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlparse

import typer

from ._console import emit_json, stderr, stdout

if TYPE_CHECKING:
    from ..pricing import PriceRegistry

__all__ = ["PriceRow", "SortKey", "Tier", "parse_blend", "price_rows", "prices", "register", "sort_rows"]

ALL_MODES = "all"


class SortKey(str, Enum):
    input = "input"
    output = "output"
    blended = "blended"
    name = "name"


class Tier(str, Enum):
    default = "default"
    flex = "flex"
    batch = "batch"
    priority = "priority"


@dataclass(frozen=True, slots=True)
class PriceRow:
    """One model of the index, at one service tier."""

    model: str
    provider: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    blended_per_mtok: Decimal
    context_window: int | None
    source: str
    effective_date: str | None
    mode: str = "chat"
    service_tier: str = "default"
    service_tiers: tuple[str, ...] = ("default",)
    cached_input_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    cache_write_1h_per_mtok: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        def money(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "model": self.model, "provider": self.provider, "mode": self.mode, "service_tier": self.service_tier,
            "service_tiers": list(self.service_tiers),
            "input_per_mtok": str(self.input_per_mtok), "output_per_mtok": str(self.output_per_mtok),
            "blended_per_mtok": str(self.blended_per_mtok),
            "cached_input_per_mtok": money(self.cached_input_per_mtok),
            "cache_write_per_mtok": money(self.cache_write_per_mtok),
            "cache_write_1h_per_mtok": money(self.cache_write_1h_per_mtok),
            "context_window": self.context_window, "source": self.source, "effective_date": self.effective_date,
        }


def parse_blend(text: str) -> tuple[Decimal, Decimal]:
    """``"3:1"`` -> (3, 1): the weights of input and output in the blended price."""
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        weights = Decimal(parts[0]), Decimal(parts[1])
    except (ArithmeticError, ValueError):
        raise typer.BadParameter(f"expected INPUT:OUTPUT weights such as 3:1, got {text!r}") from None
    if any(not w.is_finite() or w < 0 for w in weights) or sum(weights) == 0:
        raise typer.BadParameter(f"weights must be non-negative and not both zero, got {text!r}")
    return weights


def _provider_names(provider: str, model: str) -> set[str]:
    """Every name a user may filter a model's provider by: litellm's provider name, the prefix it
    routes by (``vertex_ai`` for ``vertex_ai-language-models``), and the model's own prefix."""
    from ..pricing._registry import provider_prefix

    names = {model.split("/", 1)[0].lower()} if "/" in model else set()
    if provider:
        names |= {provider.lower(), provider_prefix(provider)}
    return names


_TIER_ORDER = {name: i for i, name in enumerate(Tier.__members__)}


def price_rows(
    registry: PriceRegistry,
    *,
    blend: tuple[Decimal, Decimal] = (Decimal(3), Decimal(1)),
    provider: str | None = None,
    search: str | None = None,
    include_free: bool = False,
    mode: str = "chat",
    service_tier: str = "default",
) -> list[PriceRow]:
    """The registry's priced models of ``mode`` (``"all"``: every mode; a model of no known mode
    counts as chat) at ``service_tier`` as index rows, filtered by provider and a name substring.
    Models without a price at ``service_tier`` are left out."""
    w_in, w_out = blend
    wanted = provider.strip().lower() if provider else None
    needle = search.strip().lower() if search else None
    rows = []
    for model in registry.models():
        if needle and needle not in model.lower():
            continue
        default = registry.find(model)
        sheet = registry.find(model, service_tier=service_tier)
        if sheet is None or default is None:
            continue
        if not include_free and not sheet.input_per_mtok and not sheet.output_per_mtok:
            continue
        info = registry.info(model)
        own = info.provider if info and info.provider else ""
        kind = info.mode if info and info.mode else "chat"
        if (mode != ALL_MODES and kind != mode) or (wanted and wanted not in _provider_names(own, model)):
            continue
        blended = (w_in * sheet.input_per_mtok + w_out * sheet.output_per_mtok) / (w_in + w_out)
        rows.append(PriceRow(
            model=model, provider=own or (model.split("/", 1)[0] if "/" in model else ""),
            input_per_mtok=sheet.input_per_mtok, output_per_mtok=sheet.output_per_mtok,
            blended_per_mtok=blended.normalize() if blended else Decimal(0),
            context_window=info.max_input_tokens if info else None,
            source=sheet.source, effective_date=sheet.effective_date, mode=kind, service_tier=sheet.service_tier,
            service_tiers=tuple(sorted(default.service_tier_names, key=_TIER_ORDER.__getitem__)),
            cached_input_per_mtok=sheet.cached_input_per_mtok, cache_write_per_mtok=sheet.cache_write_per_mtok,
            cache_write_1h_per_mtok=sheet.cache_write_1h_per_mtok,
        ))
    return rows


def sort_rows(rows: Iterable[PriceRow], key: SortKey = SortKey.blended, *, descending: bool = False) -> list[PriceRow]:
    """Rows by ``key`` (cheapest first, or A-Z), ties broken by model name."""
    if key is SortKey.name:
        return sorted(rows, key=lambda r: r.model.lower(), reverse=descending)
    field = {SortKey.input: "input_per_mtok", SortKey.output: "output_per_mtok",
             SortKey.blended: "blended_per_mtok"}[key]
    ordered = sorted(rows, key=lambda r: r.model.lower())
    return sorted(ordered, key=lambda r: getattr(r, field), reverse=descending)


def _usd(value: Decimal | None) -> str:
    """Dollars with at least two decimals, up to four; amounts below a cent keep three significant
    digits (``$0.0000125``), so that no non-zero price shows as ``$0.00``."""
    if value is None:
        return "-"
    places = -value.adjusted() + 2 if value and abs(value) < Decimal("0.01") else 4
    text = f"{value:.{places}f}"
    whole, _, frac = text.rstrip("0").partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def _tokens(n: int | None) -> str:
    if not n:
        return "-"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    return f"{n // 1000}K" if n >= 1000 else str(n)


def _source(text: str) -> str:
    """The host of a URL source; a note on derived prices (`` (batch: ...)``) stays in the JSON."""
    text = text.split(" (", 1)[0]
    host = urlparse(text).netloc
    return host.removeprefix("www.") if host else text


def _cells(rows: Sequence[PriceRow], blend_text: str, cache: bool) -> list[tuple[str, list[str], bool]]:
    """(header, cells, essential) per column, in display order."""
    columns = [
        ("model", [r.model for r in rows], True),
        ("provider", [r.provider for r in rows], False),
        ("input", [_usd(r.input_per_mtok) for r in rows], True),
        ("output", [_usd(r.output_per_mtok) for r in rows], True),
        (f"blended {blend_text}", [_usd(r.blended_per_mtok) for r in rows], True),
    ]
    if cache:
        columns += [
            ("cached", [_usd(r.cached_input_per_mtok) for r in rows], True),
            ("write 5m", [_usd(r.cache_write_per_mtok) for r in rows], True),
            ("write 1h", [_usd(r.cache_write_1h_per_mtok) for r in rows], True),
        ]
    return [
        *columns,
        ("context", [_tokens(r.context_window) for r in rows], False),
        ("tiers", [" ".join(t for t in r.service_tiers if t != "default") or "-" for r in rows], False),
        ("source", [_source(r.source) for r in rows], False),
        ("as of", [(r.effective_date or "-").split(" (", 1)[0] for r in rows], False),
    ]


# The order in which optional columns are given up on a narrow terminal (first: last to go).
_KEEP_ORDER = ("provider", "context", "tiers", "source", "as of")
_MODEL_WIDTH = (12, 72)  # the model column takes what is left, within these bounds; longer names fold
_MODEL_RESERVED = 28  # kept for model names before optional columns are added


def _fit(columns: list[tuple[str, list[str], bool]], width: int) -> tuple[list[tuple[str, list[str], bool]], int]:
    """The essential columns and as many optional ones as fit in ``width`` (in ``_KEEP_ORDER``),
    and the model column's width."""
    def need(header: str, cells: list[str]) -> int:
        return max([len(header), *map(len, cells)]) + 3  # padding and border

    model = next(c for c in columns if c[0] == "model")
    natural = min(max(_MODEL_WIDTH[0], need(*model[:2]) - 3), _MODEL_WIDTH[1])
    reserved = min(natural, _MODEL_RESERVED)
    used = 1 + sum(need(h, c) for h, c, essential in columns if essential and h != "model")
    keep = set()
    for name in _KEEP_ORDER:
        column = next((c for c in columns if c[0] == name), None)
        if column is not None and used + need(*column[:2]) + reserved + 3 <= width:
            used += need(*column[:2])
            keep.add(name)
    model_width = max(_MODEL_WIDTH[0], min(natural, width - used - 3))
    return [c for c in columns if c[2] or c[0] in keep], model_width


def _render(rows: Sequence[PriceRow], total: int, blend_text: str, sort: SortKey, *, tier: Tier, mode: str,
            cache: bool) -> None:
    from rich.table import Table

    console = stdout()
    what = [] if mode == "chat" else [f"{mode} models" if mode != ALL_MODES else "all modes"]
    what += [] if tier is Tier.default else [f"{tier.value} tier"]
    title = "LLM prices" + (f" ({', '.join(what)})" if what else "")
    table = Table(title=f"{title}, US$ per million tokens (sorted by {sort.value})", title_justify="left",
                  caption=f"{len(rows)} of {total} models · blended = {blend_text} input:output"
                  + (" · a cache price '-' is billed as input (1h writes: as writes)" if cache else ""),
                  caption_justify="left")
    columns, model_width = _fit(_cells(rows, blend_text, cache), console.width)
    for header, _, _ in columns:
        if header == "model":
            table.add_column(header, overflow="fold", width=model_width)
        elif header in ("provider", "tiers", "source", "as of"):
            table.add_column(header, overflow="ellipsis", no_wrap=True)
        else:
            table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    for i in range(len(rows)):
        table.add_row(*(cells[i] for _, cells, _ in columns))
    console.print(table)


def _registry(mode: str) -> PriceRegistry:
    from ..pricing import PriceRegistry, SnapshotSource

    return PriceRegistry.default() if mode == "chat" else PriceRegistry.default(snapshot=SnapshotSource(modes=None))


def prices(
    provider: Annotated[str | None, typer.Option("--provider", "-p", help="Only this provider (openai, ...).")] = None,
    sort: Annotated[SortKey, typer.Option("--sort", "-s", help="Cheapest first (name: A-Z).")] = SortKey.blended,
    descending: Annotated[bool, typer.Option("--desc", help="Sort the other way round.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="Rows to show (0: all).")] = 50,
    search: Annotated[str | None, typer.Option("--search", help="Only models whose name contains this.")] = None,
    blend: Annotated[str, typer.Option("--blend", help="Input:output weights of the blended price.")] = "3:1",
    include_free: Annotated[bool, typer.Option("--include-free", help="Also list models priced at $0.")] = False,
    tier: Annotated[Tier, typer.Option("--tier", "-t", help="Prices of this service tier (models without it "
                                       "are left out).")] = Tier.default,
    mode: Annotated[str, typer.Option("--mode", "-m", help="Kind of model: chat, embedding, responses, ... "
                                      "or all.")] = "chat",
    cache: Annotated[bool, typer.Option("--cache", help="Show cached-input and cache-write prices.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """A price index across providers: $/M input, $/M output, blended, cache prices, context window,
    service tiers, source."""
    weights = parse_blend(blend)
    mode = mode.strip().lower()
    registry = _registry(mode)
    if mode not in (ALL_MODES, "chat"):
        known = {i.mode for i in map(registry.info, registry.models()) if i is not None and i.mode}
        if mode not in known:
            raise typer.BadParameter(f"unknown mode {mode!r}; known: {', '.join(sorted(known))} or all",
                                     param_hint="--mode")
    rows = sort_rows(
        price_rows(registry, blend=weights, provider=provider, search=search, include_free=include_free,
                   mode=mode, service_tier=tier.value),
        sort, descending=descending,
    )
    shown = rows[:limit] if limit else rows
    if as_json:
        emit_json({"sort": sort.value, "descending": descending, "blend": blend, "mode": mode,
                   "service_tier": tier.value, "total": len(rows), "rows": [r.to_dict() for r in shown]})
    elif not rows:
        clauses = [f"provider {provider!r}" if provider else "", f"search {search!r}" if search else "",
                   f"the {tier.value} tier" if tier is not Tier.default else "",
                   f"mode {mode!r}" if mode != "chat" else ""]
        stderr().print("no priced model matches " + (" and ".join(c for c in clauses if c) or "the filters"))
        raise typer.Exit(1)
    else:
        _render(shown, len(rows), blend, sort, tier=tier, mode=mode, cache=cache)


def register(app: typer.Typer) -> None:
    app.command("prices")(prices)
