"""``costroute demo``: recorded outcomes replayed through the real client against a loopback fake.

Prints, for a cheaper, the default and a safer setting, the quality kept against always calling
the baseline model next to the money saved, and writes every request to a ledger (the default
one unless ``--ledger``), so that ``costroute spend`` right after shows the demo's spend.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ._console import emit_json, errors_as_messages, stderr, stdout, usd_column

if TYPE_CHECKING:
    from rich.console import Console

    from ..demo import DemoReport

__all__ = ["demo", "register"]


def _pct(value: float) -> str:
    return f"{value:.1f}%"


def _short(report: DemoReport, model: str) -> str:
    """``GPT-4 Turbo`` for ``openai/gpt-4-1106-preview`` (the sample's label, without its details)."""
    line = next((m for m in report.models if m.name == model), None)
    return line.label.split(" (")[0] if line else model.rsplit("/", 1)[-1]


def _models(out: Console, report: DemoReport) -> None:
    from rich import box
    from rich.table import Table

    table = Table(title=f"The pool: list prices, and accuracy recorded on these {report.questions} questions",
                  title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("model", no_wrap=True)
    table.add_column("input / Mtok", justify="right")
    table.add_column("output / Mtok", justify="right")
    table.add_column("accuracy", justify="right")
    inputs = usd_column([m.input_per_mtok for m in report.models], significant=2)
    outputs = usd_column([m.output_per_mtok for m in report.models], significant=2)
    for m, i, o in zip(report.models, inputs, outputs, strict=True):
        name = escape(m.name) + ("  [dim](baseline)[/dim]" if m.name == report.baseline else "")
        table.add_row(name, i, o, _pct(100 * m.accuracy))
    out.print(table)


def _settings(out: Console, report: DemoReport) -> None:
    from rich import box
    from rich.table import Table

    strong = _short(report, report.baseline)
    baseline = report.settings[0].baseline_usd if report.settings else None
    singles = [m for m in report.singles if m.model != report.baseline]
    spend = usd_column([*(s.spend_usd for s in report.settings), *(m.cost_usd for m in singles)])
    rows: list[tuple[list[str], str]] = []
    for s, cost in zip(report.settings, spend, strict=False):
        random_kept = 100 * s.random_quality / s.baseline_quality if s.baseline_quality else float("nan")
        rows.append(([s.name, f"{s.thresholds['premium']:.2f}", _pct(100 * s.share(report.baseline)),
                      _pct(s.quality_kept), _pct(random_kept), cost, _pct(s.savings_pct)], ""))
    for m, cost in zip(singles, spend[len(report.settings):], strict=True):
        rows.append(([f"{_short(report, m.model).split('-')[0]} alone", "-", _pct(0), _pct(m.quality_kept), "-",
                      cost, _pct(m.savings_pct)], "dim"))
    table = Table(title=f"Routed, against always calling {escape(strong)} ({usd_column([baseline])[0]} for these "
                        f"{report.questions} questions)", title_justify="left", box=box.SIMPLE_HEAD)
    first, _, rest = strong.partition(" ")
    titles = ("setting", "premium\nat", f"to {first}\n{rest}".rstrip(), "quality\nkept", "random\nmix", "spend",
              "saved")
    for i, title in enumerate(titles):  # two-line headings, so that 80 columns fit the table
        table.add_column(escape(title), justify="left" if i == 0 else "right", no_wrap=True)
    for n, (cells, style) in enumerate(rows):
        if n == len(report.settings):
            table.add_section()
        bold = {3, 6} if not style else set()
        table.add_row(*(f"[bold]{escape(c)}[/bold]" if i in bold else escape(c) for i, c in enumerate(cells)),
                      style=style)
    out.print(table)


def _notes(out: Console, report: DemoReport, ledger_hint: str) -> None:
    out.print(
        "premium at: the difficulty from which a question needs the premium tier. quality kept: the mean "
        "recorded score of the model each question went to, as a share of the baseline's on the same questions. "
        "random mix: the quality kept by sending the same shares to the models at random (what routing must "
        "beat). Spend and savings are the ledger's; the \"alone\" row is priced the same way, not sent. "
        f"Difficulty scored by {escape(report.classifier)}."
    )
    if report.in_sample:
        out.print(
            f"[yellow bold]in-sample:[/yellow bold] [yellow]{escape(report.classifier)} was trained on "
            "RouteLLM's MMLU outcomes, these questions included, so it routes them better than it would "
            "route new traffic; read these quality figures as an upper bound (held-out figures: "
            "docs/routing.md).[/yellow]"
        )
    out.print(f"Outcomes: {escape(report.credit)}.")
    out.print(
        f"{sum(s.requests for s in report.settings)} requests in {report.elapsed_s:.1f} s, written to the "
        f"ledger {escape(report.ledger)} with tags source={report.tags.get('source', '')} "
        f"run={report.tags.get('run', '')}: [bold]{escape(ledger_hint)}[/bold] shows them."
    )


def _render(report: DemoReport, ledger_hint: str) -> None:
    out = stdout()
    _models(out, report)
    _settings(out, report)
    _notes(out, report, ledger_hint)


def _hint(path: Path, default: Path) -> str:
    """The ``costroute spend`` command that reads what the demo wrote."""
    reads_default = path == default and not os.environ.get("COSTROUTE_CONFIG")
    where = "" if reads_default else f" --ledger {path}"
    return f"costroute spend --by policy --by tag:source{where}"


def demo(
    prompts: Annotated[
        int | None, typer.Option("--prompts", "-n", min=1, help="Replay only the first N questions (default: all).")
    ] = None,
    ledger: Annotated[
        Path | None,
        typer.Option("--ledger", dir_okay=False, help="SQLite ledger to write to (default: costroute's default)."),
    ] = None,
    classifier: Annotated[
        str, typer.Option("--classifier", help="Difficulty classifier: a name or a weights file, as in a policy.")
    ] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Replay recorded answers of GPT-4 Turbo and Mixtral-8x7B to MMLU questions through the real client.

    Shows the quality kept and the money saved for a cheaper, the default and a safer setting. The provider is
    a fake server on 127.0.0.1: no key, no network. Spend goes to the ledger, so `costroute spend` shows it.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..demo import SETTINGS, load_sample, run_demo
    from ..spend import SQLiteLedger, default_ledger_path

    err = stderr()
    path = ledger or default_ledger_path()
    with errors_as_messages():
        sample = load_sample()
        questions = min(prompts or len(sample.rows), len(sample.rows))
        if not as_json:
            err.print(f"costroute demo: {questions} MMLU questions × {len(SETTINGS)} settings → costroute.Client → "
                      "litellm → a fake OpenAI-compatible server on 127.0.0.1 that answers with each model's "
                      "recorded answer (no keys, no network)")
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
                            transient=True, disable=as_json or not err.is_terminal)
        store = SQLiteLedger(path)
        try:
            with progress:
                task = progress.add_task("replaying", total=questions * len(SETTINGS))
                report = run_demo(questions, ledger=store, classifier=classifier,
                                  on_request=lambda done, total: progress.update(task, completed=done, total=total))
        finally:
            store.close()
    from dataclasses import replace

    report = replace(report, ledger=str(path))
    if as_json:
        emit_json({**report.to_dict(), "spend_command": _hint(path, default_ledger_path())})
    else:
        _render(report, _hint(path, default_ledger_path()))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
