"""``costroute prices``: a price index across providers, from costroute's pricing registry.

Prices are list prices in US dollars per million tokens. ``blended`` weights input and output
like public inference price indices do (3:1 input:output by default, ``--blend`` to change it).
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

__all__ = ["PriceRow", "SortKey", "parse_blend", "price_rows", "prices", "register", "sort_rows"]


class SortKey(str, Enum):
    input = "input"
    output = "output"
    blended = "blended"
    name = "name"


@dataclass(frozen=True, slots=True)
class PriceRow:
    """One model of the index."""

    model: str
    provider: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    blended_per_mtok: Decimal
    context_window: int | None
    source: str
    effective_date: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "provider": self.provider,
            "input_per_mtok": str(self.input_per_mtok), "output_per_mtok": str(self.output_per_mtok),
            "blended_per_mtok": str(self.blended_per_mtok), "context_window": self.context_window,
            "source": self.source, "effective_date": self.effective_date,
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


def price_rows(
    registry: PriceRegistry,
    *,
    blend: tuple[Decimal, Decimal] = (Decimal(3), Decimal(1)),
    provider: str | None = None,
    search: str | None = None,
    include_free: bool = False,
) -> list[PriceRow]:
    """The registry's priced models as index rows, filtered by provider and a name substring."""
    w_in, w_out = blend
    wanted = provider.strip().lower() if provider else None
    needle = search.strip().lower() if search else None
    rows = []
    for model in registry.models():
        if needle and needle not in model.lower():
            continue
        sheet = registry.find(model)
        if sheet is None:
            continue
        if not include_free and not sheet.input_per_mtok and not sheet.output_per_mtok:
            continue
        info = registry.info(model)
        own = info.provider if info and info.provider else ""
        if wanted and wanted not in _provider_names(own, model):
            continue
        blended = (w_in * sheet.input_per_mtok + w_out * sheet.output_per_mtok) / (w_in + w_out)
        rows.append(PriceRow(
            model=model, provider=own or (model.split("/", 1)[0] if "/" in model else ""),
            input_per_mtok=sheet.input_per_mtok, output_per_mtok=sheet.output_per_mtok,
            blended_per_mtok=blended.normalize() if blended else Decimal(0),
            context_window=info.max_input_tokens if info else None,
            source=sheet.source, effective_date=sheet.effective_date,
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


def _usd(value: Decimal) -> str:
    text = f"{value:.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def _tokens(n: int | None) -> str:
    if not n:
        return "-"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    return f"{n // 1000}K" if n >= 1000 else str(n)


def _source(text: str) -> str:
    host = urlparse(text).netloc
    return host.removeprefix("www.") if host else text


def _render(rows: Sequence[PriceRow], total: int, blend_text: str, sort: SortKey) -> None:
    from rich.table import Table

    table = Table(title=f"LLM prices, US$ per million tokens (sorted by {sort.value})", title_justify="left",
                  caption=f"{len(rows)} of {total} models · blended = {blend_text} input:output",
                  caption_justify="left")
    table.add_column("model", no_wrap=True)
    table.add_column("provider", no_wrap=True)
    table.add_column("input", justify="right", no_wrap=True)
    table.add_column("output", justify="right", no_wrap=True)
    table.add_column(f"blended {blend_text}", justify="right", no_wrap=True)
    table.add_column("context", justify="right", no_wrap=True)
    table.add_column("source")
    table.add_column("as of")
    for r in rows:
        table.add_row(r.model, r.provider, _usd(r.input_per_mtok), _usd(r.output_per_mtok),
                      _usd(r.blended_per_mtok), _tokens(r.context_window), _source(r.source),
                      (r.effective_date or "-").split(" (", 1)[0])
    stdout().print(table)


def prices(
    provider: Annotated[str | None, typer.Option("--provider", "-p", help="Only this provider (openai, ...).")] = None,
    sort: Annotated[SortKey, typer.Option("--sort", "-s", help="Cheapest first (name: A-Z).")] = SortKey.blended,
    descending: Annotated[bool, typer.Option("--desc", help="Sort the other way round.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="Rows to show (0: all).")] = 50,
    search: Annotated[str | None, typer.Option("--search", help="Only models whose name contains this.")] = None,
    blend: Annotated[str, typer.Option("--blend", help="Input:output weights of the blended price.")] = "3:1",
    include_free: Annotated[bool, typer.Option("--include-free", help="Also list models priced at $0.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """A price index across providers: $/M input, $/M output, blended, context window, source."""
    from ..pricing import PriceRegistry

    weights = parse_blend(blend)
    rows = sort_rows(
        price_rows(PriceRegistry.default(), blend=weights, provider=provider, search=search,
                   include_free=include_free),
        sort, descending=descending,
    )
    shown = rows[:limit] if limit else rows
    if as_json:
        emit_json({"sort": sort.value, "descending": descending, "blend": blend, "total": len(rows),
                   "rows": [r.to_dict() for r in shown]})
    elif not rows:
        clauses = [f"provider {provider!r}" if provider else "", f"search {search!r}" if search else ""]
        stderr().print("no priced model matches " + " and ".join(c for c in clauses if c))
        raise typer.Exit(1)
    else:
        _render(shown, len(rows), blend, sort)


def register(app: typer.Typer) -> None:
    app.command("prices")(prices)
