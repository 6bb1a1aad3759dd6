"""``costroute train --from-ledger`` (the work behind it) and ``costroute routing report``.

Training from the ledger reads the labelled traffic (records with stored prompts, and their
labels: ``client.feedback`` and judge labels), fits a challenger, and promotes it only when its
cross-fitted APGR on that traffic beats the active classifier's (see
:mod:`costroute.learning._promote`). The active classifier and every run's figures live in
``$COSTROUTE_HOME/classifiers/``; a policy uses the active one with ``classifier: own``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from costroute._errors import CostrouteError

__all__ = ["register", "report_cmd", "train_from_ledger"]

_console = Console()

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="costroute data directory (default $COSTROUTE_HOME or ~/.local/share/costroute)."),
]


def _fail(exc: Exception) -> typer.Exit:
    _console.print(f"error: {exc}", style="red", markup=False, highlight=False)
    return typer.Exit(code=2)


def _open_ledger(ledger_path: Path | None, config: Path | None) -> Any:
    from costroute.policies import load_config
    from costroute.spend import SQLiteLedger, default_ledger_path, ledger_from_config

    if ledger_path is None and config is None:
        ledger_path = default_ledger_path()
    if ledger_path is not None:
        if not ledger_path.is_file():  # reading must not create an empty ledger at a mistyped path
            raise CostrouteError(f"{ledger_path}: no ledger file there")
        return SQLiteLedger(ledger_path)
    assert config is not None
    return ledger_from_config(load_config(config).ledger)


def train_from_ledger(
    *,
    ledger_path: Path | None,
    config: Path | None,
    home: Path | None,
    strong: str | None,
    weak: str | None,
) -> None:
    """Train on the ledger's labelled traffic; promote the result if it beats the active one."""
    from costroute.learning import labels_from_feedback, traffic_outcomes
    from costroute.learning._promote import run_gate
    from costroute.learning._store import classifiers_dir, load_active, record_run
    from costroute.router import default_classifier

    try:
        ledger = _open_ledger(ledger_path, config)
        try:
            # today's ledgers keep feedback without its source: all of it is the application's
            traffic = traffic_outcomes(ledger.records(), labels_from_feedback(ledger.feedback()))
        finally:
            ledger.close()
        directory = classifiers_dir(home)
        champion = load_active(directory) or default_classifier()
        trained_on = getattr(champion, "metadata", {}).get("trained_on", [])
        result = run_gate(traffic.rows, champion, strong=strong, weak=weak, champion_trained_on=set(trained_on))
        run = record_run(directory, result, labels=traffic.labels, by_source=traffic.by_source)
    except CostrouteError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"Trained on {traffic.labels} labels ({len(traffic.rows)} prompts)")
    for col in ("pair", "prompts used", "challenger APGR (cross-fitted)", "active", "active APGR", "gain"):
        table.add_column(col, justify="left" if col in ("pair", "active") else "right")
    table.add_row(
        escape(f"{result.strong} vs {result.weak}"), str(result.prompts), f"{result.challenger_apgr:.3f}",
        escape(result.champion), f"{result.champion_apgr:.3f} on {result.champion_scored_on}", f"{result.gain:+.3f}",
    )
    _console.print(table)
    if run.weights is not None:
        _console.print(f"promoted: {escape(result.reason)}; active is now {escape(str(run.weights))}")
    else:
        _console.print(f"not promoted: {escape(result.reason)}")


def report_cmd(home: HomeOpt = None) -> None:
    """What was learned from your traffic: the active classifier, on how many labels, the gain,
    and every training run."""
    from costroute.learning._store import active_record, classifiers_dir, read_history

    directory = classifiers_dir(home)
    try:
        active = active_record(directory)
    except CostrouteError as exc:
        raise _fail(exc) from exc
    if active is None:
        _console.print("active: the default classifier (nothing learned from your traffic has been promoted yet)")
    else:
        _console.print(
            f"active: [bold]{escape(str(active.get('name')))}[/bold] ({escape(str(active['weights']))}), "
            f"trained {escape(str(active.get('at')))} on {active.get('labels')} labels "
            f"({escape(', '.join(f'{k} {v}' for k, v in (active.get('by_source') or {}).items()))}) "
            f"for {escape(str(active.get('strong')))} vs {escape(str(active.get('weak')))}: "
            f"APGR {active.get('challenger_apgr')} cross-fitted vs {escape(str(active.get('champion')))} "
            f"{active.get('champion_apgr')} ({float(active.get('gain', 0.0)):+.3f})"
        )
    history = read_history(directory)
    if not history:
        _console.print(f"no training runs recorded in {escape(str(directory))}")
        return
    table = Table(title=f"Training runs ({escape(str(directory))})")
    for col in ("at", "labels", "pair", "challenger", "champion", "gain", "promoted"):
        table.add_column(col, justify="left" if col in ("at", "pair", "champion") else "right")
    for row in history:
        table.add_row(
            escape(str(row.get("at", ""))[:19]), str(row.get("labels", "")),
            escape(f"{row.get('strong')} vs {row.get('weak')}"), f"{row.get('challenger_apgr', '')}",
            escape(f"{row.get('champion')} {row.get('champion_apgr')}"), f"{float(row.get('gain', 0.0)):+.3f}",
            "yes" if row.get("promoted") else "no",
        )
    _console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``routing report`` to ``app`` (``train --from-ledger`` is an option of ``train``)."""
    routing = typer.Typer(help="What routing learned from your traffic.", no_args_is_help=True)
    routing.command("report")(report_cmd)
    app.add_typer(routing, name="routing")
