"""``costroute demo``: route a realistic workload through the real client against a loopback fake."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ._console import emit_json, errors_as_messages, money, stderr, stdout

if TYPE_CHECKING:
    from ..demo import DemoReport

__all__ = ["demo", "register"]


def _render(report: DemoReport) -> None:
    from rich.table import Table

    out = stdout()
    total = report.requests or 1
    mix = Table(title="Routing mix", title_justify="left")
    mix.add_column("model", no_wrap=True)
    mix.add_column("tier", no_wrap=True)
    mix.add_column("requests", justify="right")
    mix.add_column("share", justify="right")
    mix.add_column("spend", justify="right")
    for share in report.models:
        tiers = ", ".join(f"{t} {n}" if len(share.tiers) > 1 else t for t, n in share.tiers.items())
        mix.add_row(share.model, tiers, str(share.requests), f"{share.requests / total:.0%}", money(share.cost_usd))
    out.print(mix)
    out.print("tiers: " + "  ·  ".join(f"{t} {n} ({n / total:.0%})" for t, n in report.tiers.items()))

    kinds = Table(title="Where each kind of request went", title_justify="left")
    kinds.add_column("kind", no_wrap=True)
    kinds.add_column("requests", justify="right")
    kinds.add_column("routed to")
    for kind, models in report.kinds.items():
        kinds.add_row(kind, str(sum(models.values())), ", ".join(f"{m} {n}" for m, n in models.items()))
    out.print(kinds)

    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    summary.add_column()
    summary.add_row("spend", money(report.spend_usd), "routed by costroute")
    summary.add_row("baseline", money(report.baseline_usd), f"every request on {report.baseline_model}")
    summary.add_row("saved", money(report.saved_usd),
                    f"{report.savings_pct:.1f}% less, {report.savings_x:.1f}× cheaper")
    summary.add_row("latency p50", f"{report.p50_ms:.1f} ms",
                    f"p95 {report.p95_ms:.1f} ms (client + litellm + loopback fake provider)")
    summary.add_row("elapsed", f"{report.elapsed_s:.1f} s", f"{report.requests} requests, after one warm-up call")
    out.print(summary)


def demo(
    prompts: Annotated[int, typer.Option("--prompts", "-n", min=1, max=5000, help="How many requests to send.")] = 240,
    seed: Annotated[int, typer.Option("--seed", help="Shuffle seed of the workload.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Route a realistic workload through the real client against a local fake provider.

    Easy to hard requests go through costroute.Client and litellm to a fake server on 127.0.0.1. No key, no network.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..demo import run_demo

    err = stderr()
    if not as_json:
        err.print(f"costroute demo: {prompts} requests → costroute.Client → litellm → fake OpenAI-compatible "
                  "server on 127.0.0.1 (no keys, no network)")
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
                        transient=True, disable=as_json or not err.is_terminal)
    with errors_as_messages(), progress:
        task = progress.add_task("routing", total=prompts)
        report = run_demo(prompts, seed=seed,
                          on_request=lambda done, total: progress.update(task, completed=done, total=total))
    if as_json:
        emit_json(report.to_dict())
    else:
        _render(report)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
