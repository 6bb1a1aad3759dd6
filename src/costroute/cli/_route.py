"""``costroute route "prompt"``: explain where a request would go and why, calling nothing."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from ._console import emit_json, errors_as_messages, money, stderr, stdout

if TYPE_CHECKING:
    from ..policies import CostrouteConfig
    from ..router._select import Decision

__all__ = ["decision_to_dict", "register", "route"]


def _config(path: Path | None, environ: Mapping[str, str]) -> tuple[CostrouteConfig, str]:
    """The configuration to explain with, and where it came from.

    ``--config`` first; else the client's own default (``$COSTROUTE_CONFIG`` or the provider keys
    in the environment); else the built-in demo pool, so the command works out of the box.
    """
    from .._defaults import PROVIDER_MODELS, default_config
    from ..policies import load_config

    if path is not None:
        return load_config(path, environ=environ), str(path)
    if environ.get("COSTROUTE_CONFIG"):
        return default_config(environ), environ["COSTROUTE_CONFIG"]
    if any(environ.get(var) for var in PROVIDER_MODELS):
        return default_config(environ), "provider keys in the environment"
    from ..demo import demo_config

    return load_config(demo_config(), environ=environ), "built-in demo"


def _status(decision: Decision, rank: int, model: str, rejected: str | None) -> str:
    if model == decision.model:
        return "chosen"
    return "rejected" if rejected is not None else f"eligible (fallback {rank - 1})"


def decision_to_dict(decision: Decision, *, source: str = "") -> dict[str, Any]:
    """A JSON-ready explanation of a :class:`~costroute.router._select.Decision`."""
    eligible_rank = 0
    candidates = []
    for c in decision.candidates:
        if c.rejected is None:
            eligible_rank += 1
        candidates.append({
            "model": c.model, "quality": c.quality, "est_cost_usd": c.est_cost_usd,
            "status": _status(decision, eligible_rank, c.model, c.rejected), "reason": c.rejected,
        })
    return {
        "config": source,
        "policy": decision.policy,
        "model": decision.model,
        "tier": decision.tier,
        "required_tier": decision.required_tier,
        "escalated": decision.escalated,
        "pinned": decision.pinned,
        "difficulty": round(decision.difficulty, 4),
        "label": decision.label,
        "input_tokens": decision.input_tokens,
        "est_cost_usd": decision.est_cost_usd,
        "fallbacks": decision.fallbacks,
        "signals": {k: round(v, 4) for k, v in decision.signals.items()},
        "candidates": candidates,
    }


def _render(explained: Mapping[str, Any]) -> None:
    from rich.table import Table

    out = stdout()
    tier = explained["tier"]
    if explained["escalated"]:
        tier += f" (escalated from {explained['required_tier']}: nothing eligible there)"
    out.print(f"[bold]→ {explained['model']}[/bold]" + ("  (pinned with --model)" if explained["pinned"] else ""))
    out.print(
        f"difficulty {explained['difficulty']:.3f} ({explained['label'] or '-'})  ·  "
        f"required tier {explained['required_tier']}  ·  chosen tier {tier}"
    )
    out.print(
        f"policy {explained['policy']}  ·  ~{explained['input_tokens']} input tokens  ·  "
        f"est. cost {money(explained['est_cost_usd'])}  ·  config: {explained['config']}"
    )
    table = Table(title="Candidates", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("model", no_wrap=True)
    table.add_column("quality", justify="right")
    table.add_column("est. cost", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("reason")
    styles = {"chosen": "bold green", "rejected": "red"}
    for i, c in enumerate(explained["candidates"], 1):
        style = styles.get(c["status"], "")
        table.add_row(str(i), escape(c["model"]), f"{c['quality']:.2f}", money(c["est_cost_usd"]), c["status"],
                      escape(c["reason"] or ""), style=style)
    out.print(table)
    signals = sorted(((k, v) for k, v in explained["signals"].items() if abs(v) > 1e-9), key=lambda kv: -abs(kv[1]))
    if signals:
        out.print("signals (contribution to the difficulty logit): "
                  + ", ".join(f"{k} {v:+.2f}" for k, v in signals))
    else:
        out.print("signals: none")


def route(
    prompt: Annotated[str, typer.Argument(help="The user message to route ('-' reads it from stdin).")],
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", exists=True, dir_okay=False, help="Configuration file (YAML, TOML, JSON)."),
    ] = None,
    policy: Annotated[str, typer.Option("--policy", "-p", help="Policy to route with.")] = "default",
    model: Annotated[str | None, typer.Option("--model", "-m", help="Pin a model instead of routing.")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", min=1, help="The answer's token cap.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
) -> None:
    """Explain where a prompt would be routed, and why. Calls no model and spends nothing."""
    from .. import Client
    from ..spend import MemoryLedger

    text = sys.stdin.read() if prompt == "-" else prompt
    with errors_as_messages():
        cfg, source = _config(config, os.environ)
        if source == "built-in demo" and not as_json:
            stderr().print("no --config and no provider key in the environment: using the built-in demo models")
        params: dict[str, Any] = {"max_tokens": max_tokens} if max_tokens else {}
        with Client(cfg, ledger=MemoryLedger()) as client:
            decision = client.route([{"role": "user", "content": text}], policy=policy, model=model, **params)
    explained = decision_to_dict(decision, source=source)
    if as_json:
        emit_json(explained)
    else:
        _render(explained)


def register(app: typer.Typer) -> None:
    app.command("route")(route)
