"""Cascades validated the honest way: chosen on some tasks, scored on a task they never saw.

For each task (the outcome rows' ``task``, else their ``source``) the cascade search runs on the
*other* tasks, picks the cheapest cascade reaching the goal there (a share of the strongest
model's quality on those tasks), and that cascade is replayed through
:class:`~costroute.cascade.CascadeRun` on the held-out task. Prompt routing with the same
classifier is held out the same way (thresholds chosen on the other tasks). Figures are shares
of the strongest model (the best on the tasks the choice was made on) on the held-out prompts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from costroute.evaluation._cascade import CascadeCandidate, ScoredCascade, SearchSpace, choose, search_cascades
from costroute.evaluation._cascade_replay import CascadeReplay, ReplayTable, check_fast
from costroute.evaluation._metrics import CostQuality, model_ladder, policy_points, single_model_points

__all__ = [
    "CascadeChoice",
    "Pooled",
    "TaskResult",
    "calibrate_cascade",
    "group_rows",
    "held_out",
    "in_sample",
    "pooled",
    "route_rows",
]


@dataclass(frozen=True, slots=True)
class CascadeChoice:
    """The cascade chosen for a goal on some prompts, and its exact replay on (other) prompts.
    ``candidate`` is ``None`` when no searched cascade reached the goal."""

    goal: float
    candidate: CascadeCandidate | None
    replay: CascadeReplay | None
    strongest: str
    strongest_quality: float
    strongest_cost: float

    @property
    def quality_share(self) -> float | None:
        return None if self.replay is None else _share(self.replay.quality, self.strongest_quality)

    @property
    def cost_share(self) -> float | None:
        return None if self.replay is None else _share(self.replay.cost, self.strongest_cost)


@dataclass(frozen=True, slots=True)
class TaskResult:
    """One task: the cascade and the routing policy chosen (without it when held out), scored on
    it; ``routing`` is ``None`` without difficulty scores or when no setting reached the goal."""

    task: str
    rows: tuple[int, ...]
    cascade: CascadeChoice
    routing: CostQuality | None


@dataclass(frozen=True, slots=True)
class Pooled:
    """Several tasks' results together: shares of the strongest model's quality and cost over
    all their prompts (``None`` where a task has no figure)."""

    prompts: int
    cascade_quality: float | None
    cascade_cost: float | None
    routing_quality: float | None
    routing_cost: float | None


def pooled(results: Sequence[TaskResult]) -> Pooled:
    """Pool per-task results, each prompt counted once."""
    n = sum(len(t.rows) for t in results)
    sq = sum(t.cascade.strongest_quality * len(t.rows) for t in results)
    sc = sum(t.cascade.strongest_cost * len(t.rows) for t in results)
    cascade = [t.cascade.replay for t in results]
    routing = [t.routing for t in results]
    cq = cc = rq = rc = None
    if all(r is not None for r in cascade):
        cq = _share(sum(r.quality * len(t.rows) for r, t in zip(cascade, results, strict=True) if r), sq)
        cc = _share(sum(r.cost * len(t.rows) for r, t in zip(cascade, results, strict=True) if r), sc)
    if all(r is not None for r in routing):
        rq = _share(sum(r.quality * len(t.rows) for r, t in zip(routing, results, strict=True) if r), sq)
        rc = _share(sum(r.cost * len(t.rows) for r, t in zip(routing, results, strict=True) if r), sc)
    return Pooled(n, cq, cc, rq, rc)


def _share(value: float, of: float) -> float:
    return value / of if of else 0.0


def _mean(table: ReplayTable, rows: Sequence[int], model: int, values: list[list[float]]) -> float:
    return sum(values[r][model] for r in rows) / len(rows)


def _strongest(table: ReplayTable, rows: Sequence[int], space: SearchSpace) -> int:
    if space.final is not None:
        return table.index[space.final]
    return max(range(len(table.models)),
               key=lambda i: (_mean(table, rows, i, table.quality), -_mean(table, rows, i, table.cost)))


def _choice(table: ReplayTable, scored: Sequence[ScoredCascade], train: Sequence[int], test: Sequence[int],
            goal: float, strongest: int, groups: Sequence[Sequence[int]] = ()) -> CascadeChoice:
    target = goal * _mean(table, train, strongest, table.quality)
    group_targets = [goal * _mean(table, g, strongest, table.quality) for g in groups] if groups else None
    picked = choose(scored, target, group_targets)
    name = table.models[strongest]
    sq, sc = _mean(table, test, strongest, table.quality), _mean(table, test, strongest, table.cost)
    if picked is None:
        return CascadeChoice(goal, None, None, name, sq, sc)
    candidate = picked.candidate
    replay = check_fast(table, candidate.fast(table), candidate.cascade(), test)
    return CascadeChoice(goal, candidate, replay, name, sq, sc)


def in_sample(
    table: ReplayTable, goals: Sequence[float], *, space: SearchSpace | None = None, robust: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict[float, TaskResult]:
    """For each goal, the cheapest searched cascade reaching it on all the prompts (with
    ``robust``: on each task of them too), replayed on those same prompts: in-sample figures."""
    space = space or SearchSpace()
    rows = list(range(len(table)))
    groups = list(group_rows(table).values()) if robust else []
    groups = groups if len(groups) > 1 else []
    strongest = _strongest(table, rows, space)
    scored = search_cascades(table, rows, _with_final(space, table.models[strongest]),
                             groups=groups, progress=progress)
    routing = _routing_points(table, rows)
    return {goal: TaskResult("all", tuple(rows), _choice(table, scored, rows, rows, goal, strongest, groups),
                             _routing(table, routing, rows, rows, goal, strongest)) for goal in goals}


def calibrate_cascade(
    table: ReplayTable, goal: float, *, space: SearchSpace | None = None, robust: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> CascadeChoice:
    """The cascade :func:`in_sample` chooses for one goal."""
    return in_sample(table, [goal], space=space, robust=robust, progress=progress)[goal].cascade


def _with_final(space: SearchSpace, final: str) -> SearchSpace:
    return replace(space, final=final)


def group_rows(table: ReplayTable) -> dict[str, list[int]]:
    """Rows by task (``task``, else ``source``, else one group ``all``), in first-seen order."""
    groups: dict[str, list[int]] = {}
    for r, o in enumerate(table.outcomes):
        groups.setdefault(o.task or o.source or "all", []).append(r)
    return groups


def route_rows(difficulty: Sequence[float], ladder: Sequence[str], thresholds: Mapping[str, float]) -> list[str]:
    """The model a difficulty policy sends each prompt to: the highest rung of ``ladder`` whose
    threshold the prompt's difficulty reaches (the first rung takes the rest)."""
    out: list[str] = []
    for d in difficulty:
        model = ladder[0]
        for rung in ladder[1:]:
            if d >= thresholds.get(rung, float("inf")):
                model = rung
        out.append(model)
    return out


@dataclass(frozen=True, slots=True)
class _Routing:
    """Every setting of a difficulty policy on the training rows, to pick thresholds from."""

    ladder: list[str]
    points: list[CostQuality]


def _routing_points(table: ReplayTable, train: Sequence[int]) -> _Routing | None:
    if table.difficulty is None:
        return None
    d = table.difficulty
    q = [dict(zip(table.models, table.quality[r], strict=True)) for r in train]
    c = [dict(zip(table.models, table.cost[r], strict=True)) for r in train]
    ladder = model_ladder(single_model_points(q, c))
    return _Routing(ladder, policy_points([d[r] for r in train], q, c, ladder))


def _routing(table: ReplayTable, routing: _Routing | None, train: Sequence[int], test: Sequence[int],
             goal: float, strongest: int) -> CostQuality | None:
    """Prompt routing with the thresholds of the cheapest setting reaching the goal on the
    training rows, scored on ``test``; ``None`` when no setting reaches it."""
    if routing is None or table.difficulty is None:
        return None
    target = goal * _mean(table, train, strongest, table.quality)
    points = [p for p in routing.points if p.quality >= target - 1e-12]
    if not points:
        return None
    best = min(points, key=lambda p: (p.cost, -p.quality))
    ladder = routing.ladder
    d = table.difficulty
    chosen = route_rows([d[r] for r in test], ladder, best.thresholds)
    idx = table.index
    quality = sum(table.quality[r][idx[m]] for r, m in zip(test, chosen, strict=True)) / len(test)
    cost = sum(table.cost[r][idx[m]] for r, m in zip(test, chosen, strict=True)) / len(test)
    return CostQuality(cost, quality, label="routing", thresholds=best.thresholds)


def held_out(
    table: ReplayTable,
    goals: Sequence[float],
    *,
    space: SearchSpace | None = None,
    groups: Mapping[str, Sequence[int]] | None = None,
    robust: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict[float, list[TaskResult]]:
    """For each goal, each group held out in turn (see the module docstring). Needs two groups.
    With ``robust`` the cascade must reach the goal on each training group, not only on all of
    them pooled (it then transfers better to a task it has not seen)."""
    space = space or SearchSpace()
    groups = groups or group_rows(table)
    if len(groups) < 2:
        raise ValueError("holding tasks out needs at least two tasks (or sources) in the data")
    out: dict[float, list[TaskResult]] = {g: [] for g in goals}
    names = list(groups)
    for i, task in enumerate(names):
        test = list(groups[task])
        train = [r for other in names if other != task for r in groups[other]]
        strongest = _strongest(table, train, space)
        fold_space = _with_final(space, table.models[strongest])

        def step(done: int, total: int, i: int = i) -> None:
            if progress is not None:
                progress(i * total + done, total * len(names))

        train_groups = [list(groups[other]) for other in names if other != task] if robust else []
        scored = search_cascades(table, train, fold_space, groups=train_groups, progress=step)
        routing = _routing_points(table, train)
        for goal in goals:
            choice = _choice(table, scored, train, test, goal, strongest, train_groups)
            out[goal].append(TaskResult(task, tuple(test), choice,
                                         _routing(table, routing, train, test, goal, strongest)))
    return out
