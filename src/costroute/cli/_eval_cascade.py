"""``costroute eval --strategy cascade`` and ``costroute calibrate --strategy cascade``.

Both replay the outcome file's recorded answers (``responses``) through the real cascade state
machine. Figures are shares of the strongest model's quality and cost. Where the file has two
tasks or more, each task is also held out in turn: the cascade is chosen on the others and scored
on it; those are the figures to trust. In-sample figures are always labelled as such.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from costroute._errors import CostrouteError
from costroute.cli._progress import Bars
from costroute.evaluation._cascade import SearchSpace
from costroute.evaluation._cascade_replay import ReplayTable, replay_cascade
from costroute.evaluation._data import Outcome
from costroute.evaluation._heldout import Pooled, TaskResult, group_rows, held_out, in_sample, pooled
from costroute.evaluation._metrics import CostQuality, oracle_point, single_model_points

__all__ = [
    "CURVE",
    "CascadeReport",
    "cascade_report",
    "print_report",
    "replay_config",
    "with_difficulty",
    "write_cascade_config",
]

#: Goals (shares of the strongest model's quality) of the cost-quality curve.
CURVE: tuple[float, ...] = (0.90, 0.95, 0.97, 0.98, 0.99, 1.0)


@dataclass(frozen=True, slots=True)
class CascadeReport:
    """Everything ``eval --strategy cascade`` prints (and plots)."""

    data: str
    table: ReplayTable
    goal: float
    strongest: str
    singles: Mapping[str, CostQuality]
    oracle: CostQuality
    held_out: Mapping[float, list[TaskResult]] | None
    in_sample: Mapping[float, TaskResult]
    classifier: str
    classifier_in_sample: bool


def _pct(x: float | None, missing: str = "not reached") -> str:
    return missing if x is None else f"{100 * x:.1f}%"


def cascade_report(
    data: Path, outcomes: Sequence[Outcome], difficulty: Sequence[float] | None, *, goal: float,
    classifier: str, classifier_in_sample: bool, space: SearchSpace, bars: Bars,
) -> CascadeReport:
    """Choose and replay cascades for the curve's goals (and ``goal``), held out and in-sample."""
    table = ReplayTable(outcomes, difficulty)
    goals = sorted({*CURVE, goal})
    groups = group_rows(table)
    held = None
    if len(groups) > 1:
        held = held_out(table, goals, space=space, groups=groups, progress=bars.task("holding tasks out"))
    inside = in_sample(table, goals, space=space, progress=bars.task("searching cascades"))
    quals = [dict(zip(table.models, table.quality[r], strict=True)) for r in range(len(table))]
    costs = [dict(zip(table.models, table.cost[r], strict=True)) for r in range(len(table))]
    singles = single_model_points(quals, costs)
    strongest = inside[goal].cascade.strongest
    return CascadeReport(data.name, table, goal, strongest, singles, oracle_point(quals, costs), held, inside,
                         classifier, classifier_in_sample)


def print_report(console: Console, report: CascadeReport) -> None:
    table, goal = report.table, report.goal
    strongest = report.singles[report.strongest]
    counts = ", ".join(f"{escape(t)} {len(rows)}" for t, rows in group_rows(table).items())
    console.print(
        f"{len(table)} prompts ({counts}); {len(table.models)} models with recorded answers; strongest "
        f"[bold]{escape(report.strongest)}[/bold]: quality {strongest.quality:.3f}, "
        f"${strongest.cost * 1e3:.4f} per 1k prompts. Figures are shares of its quality and cost."
    )
    if report.held_out is not None:
        console.print(_task_table(report.held_out[goal], goal, report.classifier))
        for t in report.held_out[goal]:
            chosen = t.cascade.candidate.describe() if t.cascade.candidate else "no cascade reached the goal"
            console.print(f"  {escape(t.task)}: {escape(chosen)}", highlight=False)
        console.print(_curve_table(report.held_out))
    else:
        console.print("only one task (or source) in the file: no held-out figures; every figure below is "
                      "in-sample (optimistic)", style="yellow", markup=False)
    console.print(_singles_table(report))
    console.print(_in_sample_table(report.in_sample))
    if report.classifier_in_sample:
        console.print(f"warning: the classifier {report.classifier} was trained on {report.data}: its routing "
                      "figures are in-sample (optimistic)", style="yellow", markup=False, highlight=False)


def _task_table(results: Sequence[TaskResult], goal: float, classifier: str) -> Table:
    t = Table(title=f"Cascade for quality={goal:g} of the strongest model, tasks held out "
                    f"(chosen on the other tasks, scored on this one); routing: {escape(classifier)} thresholds "
                    "chosen the same way")
    for col in ("task", "prompts", "cascade quality", "cascade cost", "routing quality", "routing cost"):
        t.add_column(col, justify="left" if col == "task" else "right")
    for r in results:
        rq = rc = None
        if r.routing is not None:
            rq, rc = r.routing.quality / r.cascade.strongest_quality, r.routing.cost / r.cascade.strongest_cost
        t.add_row(escape(r.task), str(len(r.rows)), _pct(r.cascade.quality_share), _pct(r.cascade.cost_share),
                  _pct(rq), _pct(rc))
    all_ = pooled(results)
    t.add_row("[bold]all tasks (held out)[/bold]", str(all_.prompts), f"[bold]{_pct(all_.cascade_quality)}[/bold]",
              f"[bold]{_pct(all_.cascade_cost)}[/bold]", _pct(all_.routing_quality), _pct(all_.routing_cost))
    return t


def _curve_table(held: Mapping[float, list[TaskResult]]) -> Table:
    t = Table(title="Cost-quality curve, tasks held out (all prompts)")
    for col in ("goal", "cascade quality", "cascade cost", "routing quality", "routing cost"):
        t.add_column(col, justify="right")
    for goal, results in sorted(held.items()):
        p: Pooled = pooled(results)
        t.add_row(f"{goal:g}", _pct(p.cascade_quality), _pct(p.cascade_cost), _pct(p.routing_quality),
                  _pct(p.routing_cost))
    return t


def _singles_table(report: CascadeReport) -> Table:
    best = report.singles[report.strongest]
    t = Table(title="Single models and the oracle (all prompts)")
    for col in ("model", "$/1k prompts", "quality", "of strongest quality", "of strongest cost"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for p in sorted(report.singles.values(), key=lambda p: p.cost):
        t.add_row(escape(p.label), f"{p.cost * 1e3:.4f}", f"{p.quality:.3f}", _pct(p.quality / best.quality),
                  _pct(p.cost / best.cost))
    o = report.oracle
    t.add_row("oracle (cheapest best model, hindsight)", f"{o.cost * 1e3:.4f}", f"{o.quality:.3f}",
              _pct(o.quality / best.quality), _pct(o.cost / best.cost))
    return t


def _in_sample_table(inside: Mapping[float, TaskResult]) -> Table:
    t = Table(title="In-sample: chosen and scored on the same prompts (optimistic)")
    for col in ("goal", "cascade quality", "cascade cost", "routing quality", "routing cost", "cascade"):
        t.add_column(col, justify="left" if col == "cascade" else "right")
    for goal, r in sorted(inside.items()):
        rq = rc = None
        if r.routing is not None:
            rq, rc = r.routing.quality / r.cascade.strongest_quality, r.routing.cost / r.cascade.strongest_cost
        chosen = r.cascade.candidate.describe() if r.cascade.candidate else "not reached"
        t.add_row(f"{goal:g}", _pct(r.cascade.quality_share), _pct(r.cascade.cost_share), _pct(rq), _pct(rc),
                  escape(chosen))
    return t


def replay_config(console: Console, table: ReplayTable, config_path: Path, policy: str | None) -> None:
    """Replay the cascade of a config file's policy on the data (a fixed cascade: no choice is made
    on the data, so the figures are not in-sample)."""
    from costroute.cascade import Cascade
    from costroute.policies import load_config

    config = load_config(config_path)
    names = [n for n, p in config.policies.items() if p.cascade is not None]
    name = policy or (names[0] if names else None)
    if name is None or name not in config.policies or config.policies[name].cascade is None:
        raise CostrouteError(f"{config_path}: no cascade policy {'named ' + repr(policy) if policy else 'in it'} "
                             f"(cascade policies: {', '.join(names) or 'none'})")
    section = config.policies[name].cascade
    assert section is not None
    cascade = Cascade.from_config(section, where=f"policies.{name}.cascade")
    groups = group_rows(table)
    strongest = max(table.models, key=lambda m: sum(table.quality[r][table.index[m]] for r in range(len(table))))
    s = table.index[strongest]
    t = Table(title=f"Policy {escape(name)} of {escape(config_path.name)} replayed (shares of {escape(strongest)})")
    for col in ("task", "prompts", "quality", "cost", "accepted by"):
        t.add_column(col, justify="left" if col in ("task", "accepted by") else "right")
    for task, rows in [*groups.items(), *([("all", list(range(len(table))))] if len(groups) > 1 else [])]:
        replay = replay_cascade(cascade, table, rows)
        sq = sum(table.quality[r][s] for r in rows) / len(rows)
        sc = sum(table.cost[r][s] for r in rows) / len(rows)
        accepted = ", ".join(f"{k} {v}" for k, v in sorted(replay.accepted_by.items()))
        t.add_row(escape(task), str(len(rows)), _pct(replay.quality / sq if sq else None),
                  _pct(replay.cost / sc if sc else None), escape(accepted))
    console.print(t)


def write_cascade_config(
    output: Path, data: Path, target: str, table: ReplayTable, result: TaskResult,
    held: Sequence[TaskResult] | None, prices: Mapping[str, tuple[float, float]], price_source: str,
) -> dict[str, Any]:
    """Write the calibrated config (models with their measured quality and prices, a routing
    ``default`` policy and the ``cascade`` policy); returns it."""
    import yaml

    candidate = result.cascade.candidate
    assert candidate is not None
    n = len(table)
    models = []
    for m in table.models:
        quality = sum(table.quality[r][table.index[m]] for r in range(n)) / n
        models.append({"name": m, "quality": round(quality, 3),
                       "price": {"input_per_mtok": prices[m][0], "output_per_mtok": prices[m][1]}})
    config: dict[str, Any] = {
        "models": models,
        "policies": {"default": {}, "cascade": {"strategy": "cascade", "cascade": candidate.section()}},
    }
    lines = [
        f"# costroute calibrate --strategy cascade {data.name} --target {target}",
        f"# cascade: {candidate.describe()}",
        f"# in-sample (chosen and scored on these {n} prompts, optimistic): quality "
        f"{_pct(result.cascade.quality_share)} and cost {_pct(result.cascade.cost_share)} "
        f"of {result.cascade.strongest}",
    ]
    if held:
        p = pooled(held)
        lines.append(f"# tasks held out (chosen on the other tasks): quality {_pct(p.cascade_quality)}, cost "
                     f"{_pct(p.cascade_cost)}; " + "; ".join(
                         f"{t.task} {_pct(t.cascade.quality_share)}/{_pct(t.cascade.cost_share)}" for t in held))
    lines.append(f"# prices: {price_source}")
    output.write_text("\n".join(lines) + "\n" + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return config


def with_difficulty(space: SearchSpace, use: bool) -> SearchSpace:
    """The search space, with difficulty thresholds when asked for."""
    return replace(space, skip_quantiles=(0.5, 0.75, 0.9)) if use else space
