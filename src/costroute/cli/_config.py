"""``costroute config schema`` (the configuration's JSON Schema) and ``costroute config check FILE``
(validate a file and show the pool and the policies as the client resolves them).

The schema is generated from the pydantic models (:func:`config_schema`); a copy ships in the
package (``costroute/policies/config.schema.json``, ``costroute config schema --path``) for editors:

    # yaml-language-server: $schema=<that path, or a copy next to your config>
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from ._console import emit_json, errors_as_messages, stdout, usd_column

if TYPE_CHECKING:
    from .._catalog import Catalog
    from ..policies import CostrouteConfig

__all__ = ["SCHEMA_FILE", "check", "config_schema", "register", "resolved", "schema", "shipped_schema_path"]

#: The shipped copy of the schema, inside the ``costroute.policies`` package.
SCHEMA_FILE = "config.schema.json"
_DRAFT = "https://json-schema.org/draft/2020-12/schema"

config_app = typer.Typer(help="The configuration file: its JSON Schema, and checking a file.", no_args_is_help=True)


def config_schema() -> dict[str, Any]:
    """The JSON Schema of a costroute configuration file (what :class:`~costroute.policies.CostrouteConfig`
    validates; ``${VAR}`` references are expanded before validation, so an editor may flag one in
    a number field)."""
    from ..policies import CostrouteConfig

    body = CostrouteConfig.model_json_schema(by_alias=True)
    return {"$schema": _DRAFT, "title": "costroute configuration", **{k: v for k, v in body.items() if k != "title"}}


def shipped_schema_path() -> Path:
    """Where the installed package keeps its copy of :func:`config_schema`."""
    from importlib import resources

    return Path(str(resources.files("costroute.policies") / SCHEMA_FILE))


def schema_text() -> str:
    return json.dumps(config_schema(), indent=2, sort_keys=True) + "\n"


@config_app.command("schema")
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", dir_okay=False, help="Write it to a file.")] = None,
    path: Annotated[bool, typer.Option("--path", help="Print where the package's copy is instead.")] = False,
) -> None:
    """Print the configuration's JSON Schema (generated from the config models)."""
    if path:
        typer.echo(str(shipped_schema_path()))
        return
    if output is not None:
        output.write_text(schema_text(), encoding="utf-8")
        typer.echo(f"wrote {output}; point your editor at it, e.g. `# yaml-language-server: $schema={output}`",
                   err=True)
        return
    typer.echo(schema_text(), nl=False)


def _tier_of(quality: float, tiers: Mapping[str, float]) -> str:
    met = [t for t, floor in tiers.items() if quality >= floor]
    return max(met, key=lambda t: tiers[t]) if met else "-"


def resolved(config: CostrouteConfig, catalog: Catalog) -> dict[str, Any]:
    """The pool and the policies as the client sees them: prices, quality, tier; thresholds,
    baseline, members. JSON-ready (money as strings)."""
    models = []
    for spec in config.models:
        c = catalog.candidate(spec.name)
        sheet = c.sheet
        models.append({
            "model": c.name, "provider": c.provider, "quality": c.quality,
            "quality_from": "config" if spec.quality is not None else "bundled table",
            "tier": _tier_of(c.quality, config.tiers),
            "input_per_mtok": str(sheet.input_per_mtok) if sheet else None,
            "output_per_mtok": str(sheet.output_per_mtok) if sheet else None,
            "price_from": (sheet.source or "registry") if sheet else c.unpriced_reason,
            "context_window": c.max_input_tokens,
        })
    policies = []
    for name, p in catalog.policies.items():
        policies.append({
            "policy": name, "baseline": p.baseline_model, "baseline_from": "config" if p.config.baseline else
            "strongest member", "thresholds": dict(sorted(p.thresholds.items(), key=lambda kv: kv[1])),
            "thresholds_from": "config" if p.config.thresholds else "default",
            "classifier": getattr(p.classifier, "name", p.config.classifier), "members": [c.name for c in p.pool],
            "fallbacks": dict(p.config.fallbacks), "max_output_tokens": p.config.max_output_tokens,
        })
    return {
        "tiers": dict(sorted(config.tiers.items(), key=lambda kv: kv[1])),
        "models": models,
        "policies": policies,
        "ledger": config.ledger.backend,
        "cache": config.cache.backend if config.cache.enabled else "off",
        "budgets": [b.name for b in config.budgets],
    }


def _short_source(source: str) -> str:
    """A price source as a table cell: the host of a URL, else the text."""
    from urllib.parse import urlsplit

    return urlsplit(source).netloc or source if source.startswith(("http://", "https://")) else source


def _render(source: Path, data: Mapping[str, Any]) -> None:
    from decimal import Decimal

    from rich import box
    from rich.table import Table

    out = stdout()
    out.print(f"[green]✓[/green] {escape(str(source))} is a valid costroute configuration")
    out.print("tiers: " + ", ".join(f"{escape(t)} ≥ {q:g}" for t, q in data["tiers"].items()))
    table = Table(title="Pool", title_justify="left", box=box.SIMPLE_HEAD)
    for title in ("model", "quality", "tier", "input / Mtok", "output / Mtok", "price from", "context"):
        table.add_column(title, justify="right" if title in ("quality", "input / Mtok", "output / Mtok",
                                                                  "context") else "left")
    ins = usd_column([Decimal(m["input_per_mtok"]) if m["input_per_mtok"] else None for m in data["models"]])
    outs = usd_column([Decimal(m["output_per_mtok"]) if m["output_per_mtok"] else None for m in data["models"]])
    for m, i, o in zip(data["models"], ins, outs, strict=True):
        quality = f"{m['quality']:.2f}" + ("" if m["quality_from"] == "config" else " [dim](table)[/dim]")
        table.add_row(escape(m["model"]), quality, escape(m["tier"]), i, o,
                      escape(_short_source(m["price_from"] or "")),
                      f"{m['context_window']:,}" if m["context_window"] else "-")
    out.print(table)
    for p in data["policies"]:
        thresholds = ", ".join(f"{escape(t)} from {v:g}" for t, v in p["thresholds"].items())
        out.print(f"[bold]policy {escape(p['policy'])}[/bold]: baseline {escape(p['baseline'])} "
                  f"({p['baseline_from']}); thresholds {thresholds} ({p['thresholds_from']}); "
                  f"classifier {escape(str(p['classifier']))}")
        out.print("  members: " + ", ".join(escape(m) for m in p["members"]))
        for model, chain in p["fallbacks"].items():
            out.print(f"  fallbacks of {escape(model)}: " + " → ".join(escape(m) for m in chain))
    budgets = ", ".join(escape(b) for b in data["budgets"]) or "none"
    out.print(f"ledger {data['ledger']} · cache {data['cache']} · budgets {budgets}")


@config_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Configuration file (YAML, TOML, JSON).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the resolved pool and policies as JSON.")] = False,
) -> None:
    """Validate a configuration file and show the pool (prices, quality, tier) and policies
    (thresholds, baseline, members) as the client resolves them. Calls no model; `${VAR}`s are
    read from the environment."""
    from .._catalog import Catalog
    from ..policies import load_config

    with errors_as_messages():
        config = load_config(file)
        data = resolved(config, Catalog(config))
    if as_json:
        emit_json({"config": str(file), "valid": True, **data})
    else:
        _render(file, data)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
