"""``costroute eval``, ``costroute calibrate`` and ``costroute train``.

The command functions are plain typer callbacks; :func:`register` adds them to an app. With
``--strategy cascade`` eval and calibrate replay recorded answers through cascades (see
:mod:`costroute.cli._eval_cascade`). Long steps show progress bars on a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from costroute._errors import CostrouteError
from costroute.cli._console import stderr, stdout
from costroute.cli._progress import Bars
from costroute.evaluation._calibrate import calibrate, parse_goal
from costroute.evaluation._data import Outcome, auto_pair, common_models, load_outcomes
from costroute.evaluation._metrics import (
    CostQuality,
    PairReport,
    cost_at_quality,
    cost_mix_frontier,
    evaluate_pair,
    length_scores,
    model_ladder,
    oracle_point,
    oracle_scores,
    pareto_frontier,
    policy_points,
    price_prompts,
    quality_at_cost,
    random_scores,
    single_model_points,
)

__all__ = ["calibrate_cmd", "eval_cmd", "register", "train_cmd"]

DataArg = Annotated[Path, typer.Argument(help="Outcome file (JSON Lines).", show_default=False)]
StrongOpt = Annotated[str | None, typer.Option("--strong", help="Strong model (default: best by mean quality).")]
WeakOpt = Annotated[str | None, typer.Option("--weak", help="Weak model (default: see docs).")]
ClassifierOpt = Annotated[
    str,
    typer.Option("--classifier", help="'default', 'heuristic', 'learned' or a weights file from `train`."),
]
Strategy = Literal["route", "cascade"]
StrategyOpt = Annotated[
    Strategy,
    typer.Option("--strategy", help="route: the difficulty policy; cascade: replay the recorded answers "
                 "(`responses`) through cascades."),
]
DifficultyOpt = Annotated[
    bool,
    typer.Option("--use-difficulty", help="cascade: also search difficulty thresholds (skip to the final model, "
                 "start at the second step)."),
]


def _fail(exc: Exception) -> typer.Exit:
    stderr().print(f"error: {exc}", style="red", markup=False, highlight=False)
    return typer.Exit(code=2)


def _warn(console: Console, text: str) -> None:
    console.print(f"warning: {text}", style="yellow", markup=False, highlight=False)


def _scores(outcomes: Sequence[Outcome], classifier: str, bars: Bars | None = None) -> tuple[str, list[float]]:
    from costroute.router import load_classifier

    clf = load_classifier(classifier)
    items = bars.track(outcomes, f"scoring prompts ({clf.name})") if bars is not None else outcomes
    return clf.name, [clf.classify(o.messages).score for o in items]


def _in_sample_note(data: Path, classifier: str, name: str) -> str | None:
    """The warning to show when ``classifier`` was trained on ``data`` (its figures are in-sample)."""
    if data.name in _trained_on(classifier):
        return (f"{name} was trained on {data.name}, so these figures are in-sample (optimistic); for honest "
                "ones, cross-fit: see benchmarks/bench_classifier.py or train on a split")
    return None


def _trained_on(classifier: str) -> set[str]:
    """The names of the files a learned classifier was trained on (from its weights' metadata)."""
    from costroute.router import load_classifier

    metadata = getattr(load_classifier(classifier), "metadata", None) or {}
    return {str(s.get("name")) for s in metadata.get("sets", []) if isinstance(s, Mapping)}


def _pair(path: Path, outcomes: Sequence[Outcome], strong: str | None, weak: str | None) -> tuple[str, str]:
    try:
        auto_strong, auto_weak = auto_pair(outcomes)
    except CostrouteError as exc:
        raise CostrouteError(f"{path}: {exc}") from None
    s, w = strong or auto_strong, weak or auto_weak
    if s == w and strong is None:
        raise CostrouteError(f"--weak {w!r} is the best model in {path}; name the strong one with --strong")
    if s == w:
        raise CostrouteError(f"--strong and --weak must be two different models, both are {s!r}")
    models = common_models(outcomes)
    for m in (s, w):
        if m not in models:
            raise CostrouteError(f"{path}: model {m!r} is not scored on every prompt; known: {models}")
    return s, w


def _writable(path: Path) -> Path:
    """``path`` if a file can be written there; checked before any long work."""
    if path.is_dir():
        raise CostrouteError(f"{path}: is a directory, not a file to write")
    if not path.parent.is_dir():
        raise CostrouteError(f"{path}: the directory {path.parent} does not exist")
    return path


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _pair_table(title: str, reports: Mapping[str, PairReport]) -> Table:
    table = Table(title=title)
    for col in ("router", "APGR", "CPT(50%)", "CPT(80%)", "C95"):
        table.add_column(col, justify="left" if col == "router" else "right")
    for name, r in reports.items():
        table.add_row(escape(name), f"{r.apgr:.3f}", _pct(r.cpt50), _pct(r.cpt80), _pct(r.c95))
    return table


def _load_prices(path: Path) -> dict[str, tuple[float, float]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {m: (float(p["input_per_mtok"]), float(p["output_per_mtok"])) for m, p in raw.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CostrouteError(f"{path}: expected {{model: {{input_per_mtok, output_per_mtok}}}} ({exc!r})") from exc


def _costs(
    path: Path, outcomes: Sequence[Outcome], prices: Path | None, output_tokens: int
) -> list[dict[str, float]] | None:
    """Per-prompt $ per model: the data's ``costs_usd`` when every row has them, else priced from
    ``prices``. Every model scored on every prompt must have a cost."""
    models = common_models(outcomes)
    if all(o.costs_usd for o in outcomes):
        for o in outcomes:
            missing = [m for m in models if m not in o.costs_usd]
            if missing:
                raise CostrouteError(f"{path}: prompt {o.id!r} has `costs_usd` without {', '.join(missing)}")
        return [{m: o.costs_usd[m] for m in models} for o in outcomes]
    if prices is None:
        return None
    from costroute.router._tokens import default_counter

    table = _load_prices(prices)
    missing = [m for m in models if m not in table]
    if missing:
        raise CostrouteError(f"{prices}: no price for {', '.join(missing)} (scored in {path})")
    counter = default_counter("cl100k_base")
    return price_prompts([o.text for o in outcomes], {m: table[m] for m in models}, output_tokens=output_tokens,
                         count_tokens=counter.count)


def _share(cost: float, of: float) -> str:
    return f"{cost / of:.0%}" if of > 0 else "n/a"


def _multi_table(
    outcomes: Sequence[Outcome], costs: Sequence[Mapping[str, float]], difficulty: Sequence[float]
) -> tuple[Table, list[CostQuality], list[CostQuality], dict[str, CostQuality]]:
    quals = [dict(o.scores) for o in outcomes]
    singles = single_model_points(quals, costs)
    best = max(singles.values(), key=lambda p: p.quality)
    ladder = model_ladder(singles)
    points = policy_points(difficulty, quals, costs, ladder)
    frontier = pareto_frontier(points)
    hull = cost_mix_frontier(singles)
    table = Table(title=f"Cost vs quality ({len(outcomes)} prompts; $ per 1k prompts)")
    for col in ("policy", "$/1k prompts", "quality", "vs best single"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    for p in sorted(singles.values(), key=lambda p: p.cost):
        table.add_row(escape(p.label), f"{p.cost * 1e3:.4f}", f"{p.quality:.3f}", _share(p.cost, best.cost))
    at = cost_at_quality(points, best.quality)
    if at is not None:
        table.add_row(
            "[bold]difficulty policy @ best quality[/bold]",
            f"{at.cost * 1e3:.4f}",
            f"{at.quality:.3f}",
            f"[bold]{_share(at.cost, best.cost)}[/bold]",
        )
    else:
        table.add_row("difficulty policy @ best quality", "not reached", "", "")
    grid = [hull[0].cost + (hull[-1].cost - hull[0].cost) * i / 1000 for i in range(1001)]
    mix = next((c for c in grid if quality_at_cost(hull, c) >= best.quality), None)
    table.add_row(
        "mix single models @ best quality",
        "n/a" if mix is None else f"{mix * 1e3:.4f}",
        f"{best.quality:.3f}",
        "n/a" if mix is None else _share(mix, best.cost),
    )
    oracle = oracle_point(quals, costs)
    table.add_row(
        "oracle (cheapest best model)",
        f"{oracle.cost * 1e3:.4f}",
        f"{oracle.quality:.3f}",
        _share(oracle.cost, best.cost),
    )
    return table, frontier, hull, singles


def eval_cmd(
    data: DataArg,
    strong: StrongOpt = None,
    weak: WeakOpt = None,
    prices: Annotated[Path | None, typer.Option("--prices", help="$ per million tokens per model (JSON).")] = None,
    classifier: ClassifierOpt = "default",
    plot: Annotated[Path | None, typer.Option("--plot", help="Write a PNG of the curves.")] = None,
    output_tokens: Annotated[int, typer.Option(help="Answer tokens assumed for pricing.")] = 200,
    strategy: StrategyOpt = "route",
    target: Annotated[str, typer.Option("--target", help="cascade: the goal, quality=FRACTION of the strongest "
                                        "model's quality.")] = "quality=0.98",
    use_difficulty: DifficultyOpt = False,
    config: Annotated[Path | None, typer.Option("--config", help="cascade: also replay this config's cascade "
                                                "policy.")] = None,
    policy: Annotated[str | None, typer.Option("--policy", help="cascade: the policy of --config to replay.")] = None,
) -> None:
    """Score a classifier on recorded outcomes: APGR, CPT and C95 against baselines, and the
    cost-quality curve of the difficulty policy when prices are known. With ``--strategy cascade``:
    cascades replayed from the recorded answers, with tasks held out, against single models,
    prompt routing and the oracle."""
    out = stdout()
    try:
        if plot is not None:
            from costroute.cli._eval_plot import require_matplotlib

            require_matplotlib()
            _writable(plot)
        outcomes = load_outcomes(data)
        if strategy == "cascade":
            _unused(out, strong=strong, weak=weak, prices=prices)
            goal = _cascade_goal(target)
            _cascade_eval(out, data, outcomes, classifier, goal, use_difficulty, config, policy, plot)
            return
        s, w = _pair(data, outcomes, strong, weak)
        costs = _costs(data, outcomes, prices, output_tokens)
        with Bars() as bars:
            name, scores = _scores(outcomes, classifier, bars)
        note = _in_sample_note(data, classifier, name)
    except CostrouteError as exc:
        raise _fail(exc) from exc
    st = [o.scores[s] for o in outcomes]
    wk = [o.scores[w] for o in outcomes]
    baselines = ("random", "prompt length", "oracle (hindsight)")
    label = f"{name} (classifier)" if name in baselines else name
    reports = {
        "random": evaluate_pair(random_scores(len(outcomes)), st, wk),
        "prompt length": evaluate_pair(length_scores([o.text for o in outcomes]), st, wk),
        label: evaluate_pair(scores, st, wk),
        "oracle (hindsight)": evaluate_pair(oracle_scores(st, wk), st, wk),
    }
    r = reports[label]
    out.print(
        f"{len(outcomes)} prompts; strong [bold]{escape(s)}[/bold] {r.strong_quality:.3f}, "
        f"weak [bold]{escape(w)}[/bold] {r.weak_quality:.3f}"
    )
    if note:
        _warn(out, note)
    out.print(_pair_table("Strong/weak routing", reports))
    multi = None
    if costs is not None:
        table, frontier, hull, singles = _multi_table(outcomes, costs, scores)
        out.print(table)
        multi = (frontier, hull, singles)
    if plot is not None:
        from costroute.cli._eval_plot import plot_pair

        plot_pair(plot, reports, multi, data=data.name, strong=s, weak=w, classifier=name,
                  warning=f"in-sample: {name} was trained on {data.name}" if note else None)
        out.print(f"wrote {escape(str(plot))}")


def _unused(out: Console, **given: object) -> None:
    """Warn about route-only options given with ``--strategy cascade``."""
    named = [f"--{name}" for name, value in given.items() if value is not None]
    if named:
        _warn(out, f"{', '.join(named)} not used with --strategy cascade (a cascade compares every model "
                   "the file answers with; costs come from its costs_usd)")


def _cascade_goal(target: str) -> float:
    goal = parse_goal(target)
    if goal.kind != "quality":
        raise CostrouteError(f"--target {target!r}: a cascade's goal is quality=FRACTION of the strongest model")
    return goal.value


def _cascade_eval(out: Console, data: Path, outcomes: Sequence[Outcome], classifier: str, goal: float,
                  use_difficulty: bool, config: Path | None, policy: str | None, plot: Path | None) -> None:
    from costroute.cli._eval_cascade import cascade_report, print_report, replay_config, with_difficulty
    from costroute.evaluation._cascade import SearchSpace

    with Bars() as bars:
        name, scores = _scores(outcomes, classifier, bars)
        report = cascade_report(data, outcomes, scores, goal=goal, classifier=name,
                                classifier_in_sample=_in_sample_note(data, classifier, name) is not None,
                                space=with_difficulty(SearchSpace(), use_difficulty), bars=bars)
    print_report(out, report)
    if config is not None:
        replay_config(out, report.table, config, policy)
    if plot is not None:
        from costroute.cli._eval_plot import plot_cascade

        plot_cascade(plot, report)
        out.print(f"wrote {escape(str(plot))}")


def calibrate_cmd(
    data: DataArg,
    target: Annotated[str, typer.Option("--target", help="premium-share=0.3 or quality=0.95", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="YAML file to write.")],
    strong: StrongOpt = None,
    weak: WeakOpt = None,
    classifier: ClassifierOpt = "default",
    prices: Annotated[
        Path | None, typer.Option("--prices", help="$ per million tokens per model (JSON), written into the config.")
    ] = None,
    strategy: StrategyOpt = "route",
    use_difficulty: DifficultyOpt = False,
) -> None:
    """Pick the premium threshold for a goal and write it, with each model's measured
    quality (and price, with --prices), as a costroute config that loads as written. With
    ``--strategy cascade``: the cheapest cascade reaching quality=FRACTION of the strongest
    model's quality, written as a ``cascade`` policy (prices, without --prices, are fitted to the
    data's recorded costs)."""
    out = stdout()
    if strategy == "cascade":
        _unused(out, strong=strong, weak=weak)
        try:
            _writable(output)
            _cascade_calibrate(out, data, target, output, classifier, prices, use_difficulty)
        except CostrouteError as exc:
            raise _fail(exc) from exc
        return
    import yaml

    try:
        goal = parse_goal(target)
        _writable(output)
        outcomes = load_outcomes(data)
        s, w = _pair(data, outcomes, strong, weak)
        with Bars() as bars:
            name, scores = _scores(outcomes, classifier, bars)
        note = _in_sample_note(data, classifier, name)
        table = _load_prices(prices) if prices is not None else None
        if Path(classifier).is_file():  # a weights file: written so the config works from anywhere
            classifier = str(Path(classifier).resolve())
        result = calibrate(outcomes, scores, strong=s, weak=w, goal=goal, classifier=classifier, prices=table)
        _check_loads(result.config, prices)
    except CostrouteError as exc:
        raise _fail(exc) from exc
    header = (
        f"# costroute calibrate {data.name} --target {target} (classifier {name})\n"
        f"# premium threshold {result.threshold:.4f}: {result.premium_share:.1%} premium calls,"
        f" quality {result.quality:.4f} (strong {result.strong_quality:.4f},"
        f" weak {result.weak_quality:.4f}) on {len(outcomes)} prompts"
        + (" (in-sample: the threshold was chosen on them)" if note is None else
           f" (in-sample twice over: {name} was trained on {data.name})") + "\n"
    )
    output.write_text(header + yaml.safe_dump(result.config, sort_keys=False), encoding="utf-8")
    table_out = Table(title=f"Calibrated for {escape(target)} (in-sample: measured on the prompts it was chosen on)")
    for col in ("threshold", "premium calls", "quality", "of strong"):
        table_out.add_column(col, justify="right")
    table_out.add_row(
        f"{result.threshold:.4f}",
        f"{result.premium_share:.1%}",
        f"{result.quality:.4f}",
        f"{result.quality / result.strong_quality:.1%}" if result.strong_quality else "n/a",
    )
    if note:
        _warn(out, note)
    out.print(table_out)
    out.print(f"wrote {escape(str(output))}")


def _cascade_calibrate(out: Console, data: Path, target: str, output: Path, classifier: str,
                       prices: Path | None, use_difficulty: bool) -> None:
    from costroute.cli._eval_cascade import with_difficulty, write_cascade_config
    from costroute.evaluation._cascade import SearchSpace
    from costroute.evaluation._cascade_replay import ReplayTable
    from costroute.evaluation._heldout import group_rows, held_out, in_sample

    goal = _cascade_goal(target)
    outcomes = load_outcomes(data)
    space = with_difficulty(SearchSpace(), use_difficulty)
    with Bars() as bars:
        scores = _scores(outcomes, classifier, bars)[1] if use_difficulty else None
        table = ReplayTable(outcomes, scores)
        price_table, source = _cascade_prices(outcomes, table.models, prices)
        inside = in_sample(table, [goal], space=space, progress=bars.task("searching cascades"))[goal]
        held = None
        if len(group_rows(table)) > 1:
            held = held_out(table, [goal], space=space, progress=bars.task("holding tasks out"))[goal]
    if inside.cascade.candidate is None:
        raise CostrouteError(f"no searched cascade reaches {target} of {inside.cascade.strongest} on {data.name}; "
                             "nothing written")
    config = write_cascade_config(output, data, target, table, inside, held, price_table, source)
    try:
        _check_loads(config, prices)
    except CostrouteError:
        output.unlink()
        raise
    _warn(out, "the figures below are in-sample: the cascade was chosen and scored on the same prompts")
    result = Table(title=f"Cascade calibrated for {escape(target)} of {escape(inside.cascade.strongest)}")
    for col in ("prompts", "quality", "cost", "figures"):
        result.add_column(col, justify="left" if col == "figures" else "right")
    result.add_row(str(len(table)), _pct(inside.cascade.quality_share), _pct(inside.cascade.cost_share),
                   "in-sample (optimistic)")
    for t in held or []:
        result.add_row(str(len(t.rows)), _pct(t.cascade.quality_share), _pct(t.cascade.cost_share),
                       f"{escape(t.task)} held out (chosen on the other tasks)")
    out.print(result)
    if held:
        out.print("held-out rows: the same search run without that task, scored on it (what to expect on a "
                  "task the data does not cover)", highlight=False)
    assert inside.cascade.candidate is not None
    out.print(f"cascade: {escape(inside.cascade.candidate.describe())}", highlight=False)
    out.print(f"wrote {escape(str(output))} (policy 'cascade'; prices {escape(source)})")


def _cascade_prices(outcomes: Sequence[Outcome], models: Sequence[str],
                    prices: Path | None) -> tuple[dict[str, tuple[float, float]], str]:
    """Prices for the written config: from --prices, else fitted to the recorded costs."""
    if prices is not None:
        table = _load_prices(prices)
        missing = [m for m in models if m not in table]
        if missing:
            raise CostrouteError(f"{prices}: no price for {', '.join(missing)}")
        return table, f"from {prices.name}"
    from costroute.evaluation._prices import infer_prices
    from costroute.router._tokens import default_counter

    counter = default_counter("cl100k_base")
    return infer_prices(outcomes, models, counter.count), "fitted to the recorded costs (cl100k token counts)"


def _check_loads(config: Mapping[str, Any], prices: Path | None) -> None:
    """Refuse to write a config costroute would reject, or one whose models cannot be routed to
    because nothing prices them."""
    from costroute._catalog import Catalog
    from costroute.policies import load_config

    hint = (f"; {prices} must price every model" if prices is not None
            else "; pass --prices FILE with {model: {input_per_mtok, output_per_mtok}} for every model")
    try:
        catalog = Catalog(load_config(dict(config)))
    except CostrouteError as exc:
        raise CostrouteError(f"the calibrated config would not load ({exc}){hint}; nothing written") from None
    unpriced = [m["name"] for m in config["models"] if catalog.candidate(m["name"]).sheet is None]
    if unpriced:
        raise CostrouteError(f"no price is known for {', '.join(unpriced)}{hint}; nothing written")


def train_cmd(
    data: Annotated[list[Path] | None, typer.Argument(help="Outcome files.", show_default=False)] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Weights file to write.")] = None,
    from_ledger: Annotated[
        bool, typer.Option("--from-ledger", help="Train on your labelled traffic; promote only if it beats the active.")
    ] = False,
    ledger: Annotated[Path | None, typer.Option("--ledger", help="With --from-ledger: a SQLite ledger file.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="With --from-ledger: costroute config file.")] = None,
    home: Annotated[Path | None, typer.Option("--home", help="With --from-ledger: costroute data directory.")] = None,
    strong: StrongOpt = None,
    weak: WeakOpt = None,
    name: Annotated[str, typer.Option(help="Name of the trained classifier.")] = "learned-custom",
    alpha: Annotated[float, typer.Option(help="Ridge penalty.")] = 5.0,
    dim: Annotated[
        int, typer.Option(help="0: a vocabulary of word n-grams (the shipped format); a power of two: hashed n-grams.")
    ] = 0,
) -> None:
    """Train a learned classifier on outcome files (needs the ``train`` extra). Each file's
    label is the quality gap of its strong/weak pair (``--strong``/``--weak`` or automatic).
    With ``--from-ledger``, train on your labelled traffic instead (see ``costroute routing report``)."""
    from costroute.evaluation._train import TrainingSet, fit_payload, save_payload

    if from_ledger:
        if data or output is not None:
            raise _fail(CostrouteError("--from-ledger reads the ledger and writes the active classifier: "
                                       "give no outcome files and no --output"))
        from costroute.cli._routing import train_from_ledger

        train_from_ledger(ledger_path=ledger, config=config, home=home, strong=strong, weak=weak)
        return
    if not data or output is None:
        raise _fail(CostrouteError("give outcome files and -o/--output (or --from-ledger)"))

    if dim < 0 or (dim and dim & (dim - 1)):
        raise _fail(CostrouteError(f"--dim must be 0 or a power of two, got {dim}"))
    if not alpha > 0 or alpha == float("inf"):
        raise _fail(CostrouteError(f"--alpha must be a positive number, got {alpha}"))
    out = stdout()
    try:
        _writable(output)
        sets = []
        table = Table(title="Training sets")
        for col in ("file", "prompts", "strong", "weak"):
            table.add_column(col)
        with Bars() as bars:
            for path in bars.track(data, "reading outcome files"):
                outcomes = load_outcomes(path)
                s, w = _pair(path, outcomes, strong, weak)
                sets.append(TrainingSet(outcomes, s, w, name=path.name))
                table.add_row(escape(path.name), str(len(outcomes)), escape(s), escape(w))
        out.print(table)
        total = sum(len(t.outcomes) for t in sets)
        if total < _MIN_TRAINING_PROMPTS:
            raise CostrouteError(f"need at least {_MIN_TRAINING_PROMPTS} prompts to train, got {total}")
        with Bars() as bars:
            bars.task(f"fitting on {total} prompts")
            payload: dict[str, Any] = fit_payload(sets, name=name, alpha=alpha, dim=dim)
        try:
            save_payload(payload, output)
        except ValueError:
            raise CostrouteError(
                "the fit gave weights that are not finite numbers (try a larger --alpha or more prompts); "
                "nothing was written"
            ) from None
    except CostrouteError as exc:
        raise _fail(exc) from exc
    out.print(f"wrote {escape(str(output))} ({output.stat().st_size / 1e6:.2f} MB)")


#: Fewer prompts than this cannot be cross-fitted for calibration (5 folds) or learn anything.
_MIN_TRAINING_PROMPTS = 20


def register(app: typer.Typer) -> None:
    """Add ``eval``, ``calibrate`` and ``train`` to ``app``."""
    app.command("eval")(eval_cmd)
    app.command("calibrate")(calibrate_cmd)
    app.command("train")(train_cmd)
