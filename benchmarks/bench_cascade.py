"""Cascade benchmark: ``python benchmarks/bench_cascade.py [--data FILE] [--quick]``.

Prints, from an outcome file with recorded answers (default ``../shared/data/routerbench-train.jsonl``):

1. **Overhead per request**: the time the cascade's own decisions take (parsing the prompt,
   normalizing and comparing answers, the state machine), with the model calls answered instantly
   from the recorded answers, so no model time is included. p50/p99 per task kind, next to the
   default classifier's scoring time on the same prompts, measured in the same run (the ratio is
   the figure to compare across machines).
2. **Cost-quality with whole tasks held out**: for each task, the cascade chosen on the other
   tasks for each goal, replayed through ``CascadeRun`` on it; against prompt routing (default
   classifier, thresholds chosen the same way), single models and the hindsight oracle.
   In-sample figures are printed separately and labelled.
3. **The verifier on code** (the file's code task, e.g. MBPP): how often cheap models "agree"
   under each way of comparing code, how often an accepted answer is right, and what a fixed
   cascade then keeps and costs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from costroute.cascade import AgreementVerifier, Answer, Cascade
from costroute.evaluation import (
    ReplayTable,
    SearchSpace,
    group_rows,
    held_out,
    in_sample,
    load_outcomes,
    oracle_point,
    pooled,
    replay_cascade,
    single_model_points,
)
from costroute.router import default_classifier


def _default_data() -> Path:
    """``shared/data/routerbench-train.jsonl`` next to the repository (or a worktree's parents)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "routerbench-train.jsonl"
        if candidate.is_file():
            return candidate
    return Path("routerbench-train.jsonl")
GOALS = (0.90, 0.95, 0.97, 0.98, 0.99)
#: The issue's cascade: accept Mixtral when Mistral-7B and Yi-34B agree with it, else GPT-4.
ISSUE = (("mistralai/mixtral-8x7b-chat",), "gpt-4-1106-preview",
         ("mistralai/mistral-7b-chat", "zero-one-ai/Yi-34B-Chat"), 2)


def pct(x: float | None) -> str:
    return "  n/a " if x is None else f"{100 * x:5.1f}%"


def quantiles(values: Sequence[float]) -> tuple[float, float]:
    s = sorted(values)
    return s[len(s) // 2], s[min(len(s) - 1, int(len(s) * 0.99))]


def overhead(outcomes: Sequence, cascades: dict[str, Cascade], repeat: int) -> None:
    """Wall time of one request's cascade decisions with instant recorded answers (a fresh prompt
    parse and normalization each time, as at request time). Each request is timed ``repeat``
    times and its fastest time kept, for the cascade and the classifier alike: on a loaded
    machine single timings are mostly other processes' time slices."""
    clf = default_classifier()
    print("\n## 1. Cascade overhead per request (model calls excluded; same run, same prompts)")
    print(f"(each request timed {repeat}x, fastest kept; the ratio to the classifier is the portable figure)")
    print(f"{'task kind':<10} {'requests':>8} {'answer chars p50':>16} {'cascade p50':>12} {'p99':>9}"
          f" {'classifier p50':>15} {'p99':>9} {'cascade / classifier p50':>25}")
    for kind, cascade in cascades.items():
        rows = [o for o in outcomes if (o.task == "mbpp") == (kind == "code")]
        times: list[float] = []
        scoring: list[float] = []
        for o in rows:
            messages = o.messages
            best = best_clf = float("inf")
            for _ in range(repeat):
                t0 = time.perf_counter()
                run = cascade.start(messages)
                while calls := run.next_calls():
                    for call in calls:
                        run.receive(call.key, Answer(o.responses[call.model], None, Decimal(0)))
                _ = run.outcome
                t1 = time.perf_counter()
                clf.classify(messages)
                t2 = time.perf_counter()
                best, best_clf = min(best, t1 - t0), min(best_clf, t2 - t1)
            times.append(best)
            scoring.append(best_clf)
        p50, p99 = quantiles(times)
        s50, s99 = quantiles(scoring)
        chars = statistics.median(len(a) for o in rows for a in o.responses.values())
        print(f"{kind:<10} {len(times):>8} {chars:>16.0f} {p50 * 1e6:>10.0f}µs {p99 * 1e6:>7.0f}µs"
              f" {s50 * 1e6:>13.0f}µs {s99 * 1e6:>7.0f}µs {p50 / s50:>24.2f}x")


def held_out_tables(table: ReplayTable, space: SearchSpace) -> None:
    print("\n## 2. Cost and quality as shares of the strongest model, whole tasks held out")
    print("(each task: the cascade chosen on the other tasks, replayed through CascadeRun on it)")
    results = held_out(table, GOALS, space=space)
    tasks = [t.task for t in results[GOALS[0]]]
    print(f"{'goal':>5}  " + "  ".join(f"{t[:13]:>13} q/$" for t in tasks) + f"  {'all (held out)':>18}"
          + f"  {'routing all':>16}")
    for goal in GOALS:
        cells = [f"{pct(t.cascade.quality_share)}/{pct(t.cascade.cost_share)}" for t in results[goal]]
        p = pooled(results[goal])
        print(f"{goal:>5}  " + "  ".join(f"{c:>17}" for c in cells)
              + f"  {pct(p.cascade_quality)}/{pct(p.cascade_cost)}  {pct(p.routing_quality)}/{pct(p.routing_cost)}")
    print("chosen at 0.98:")
    for t in results[0.98]:
        print(f"  {t.task}: {t.cascade.candidate.describe() if t.cascade.candidate else 'goal not reached'}")
    inside = in_sample(table, GOALS, space=space)
    print("in-sample (chosen and scored on all prompts: optimistic):")
    for goal in GOALS:
        r = inside[goal]
        print(f"  {goal}: cascade {pct(r.cascade.quality_share)}/{pct(r.cascade.cost_share)}"
              f"  routing {pct(r.routing.quality / r.cascade.strongest_quality) if r.routing else ' n/a'}"
              f"/{pct(r.routing.cost / r.cascade.strongest_cost) if r.routing else ' n/a'}")
    n = len(table)
    quals = [dict(zip(table.models, table.quality[r], strict=True)) for r in range(n)]
    costs = [dict(zip(table.models, table.cost[r], strict=True)) for r in range(n)]
    singles = single_model_points(quals, costs)
    best = max(singles.values(), key=lambda p: p.quality)
    oracle = oracle_point(quals, costs)
    print(f"oracle (hindsight): {pct(oracle.quality / best.quality)}/{pct(oracle.cost / best.cost)} of {best.label}")
    steps, final, with_, k = ISSUE
    issue = Cascade(list(steps), final, [AgreementVerifier(with_, k)])
    for task, rows in group_rows(table).items():
        r = replay_cascade(issue, table, rows)
        f = table.index[final]
        sq = sum(table.quality[i][f] for i in rows) / len(rows)
        sc = sum(table.cost[i][f] for i in rows) / len(rows)
        print(f"the issue's fixed cascade (Mixtral if Mistral and Yi agree, else GPT-4) on {task}: "
              f"{pct(r.quality / sq)}/{pct(r.cost / sc)}")


def code_verifiers(table: ReplayTable) -> None:
    rows = [r for r, o in enumerate(table.outcomes) if o.task == "mbpp"]
    if not rows:
        return
    print(f"\n## 3. The verifier on code ({len(rows)} MBPP prompts; no code is run)")
    step, voters, final = "mistralai/mixtral-8x7b-chat", ("meta/code-llama-instruct-34b-chat",
                                                          "gpt-3.5-turbo-1106"), "gpt-4-1106-preview"
    f = table.index[final]
    sq = sum(table.quality[r][f] for r in rows) / len(rows)
    sc = sum(table.cost[r][f] for r in rows) / len(rows)
    print(f"cascade: {step} -> {final}, accepted when 1 of {', '.join(voters)} agrees")
    print(f"{'comparison':<44} {'accepted':>9} {'right when accepted':>20} {'quality':>8} {'cost':>7}")
    variants = [("exact text (case, spaces, punctuation aside)", "text", 1.0),
                ("same program (AST, names renamed)", "code", 1.0),
                ("token 4-gram similarity >= 0.7", "code", 0.7),
                ("token 4-gram similarity >= 0.5", "code", 0.5),
                ("token 4-gram similarity >= 0.35", "code", 0.35)]
    base = sum(table.quality[r][table.index[step]] for r in rows) / len(rows)
    for label, kind, threshold in variants:
        verifier = AgreementVerifier(voters, 1, {"choice": 1.0, "number": 1.0, "code": threshold,
                                                 "text": threshold if kind == "text" else 0.8})
        cascade = Cascade([step], final, [verifier], task=kind)  # type: ignore[arg-type]
        r = replay_cascade(cascade, table, rows)
        accepted = r.accepted_by.get("agreement", 0)
        right = sum(1 for q, m in zip(r.row_quality, _winners(cascade, table, rows), strict=True)
                    if m == step and q == 1.0)
        print(f"{label:<44} {accepted / len(rows):>8.1%} {(right / accepted if accepted else 0):>19.1%}"
              f" {pct(r.quality / sq):>8} {pct(r.cost / sc):>7}")
    print(f"(the step alone is right on {base:.1%} of these prompts; {final} on {sq:.1%})")


def _winners(cascade: Cascade, table: ReplayTable, rows: Sequence[int]) -> list[str]:
    out = []
    for r in rows:
        o = table.outcomes[r]
        run = cascade.start(o.messages, prompt=table.prompts[r], memo=table.memos[r])
        while calls := run.next_calls():
            for call in calls:
                run.receive(call.key, Answer(o.responses[call.model]))
        out.append(run.outcome.model or "")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=_default_data())
    parser.add_argument("--quick", action="store_true", help="fewer overhead repetitions, a smaller search")
    args = parser.parse_args()
    outcomes = load_outcomes(args.data)
    print(f"# Cascades on {args.data.name}: {len(outcomes)} prompts")
    steps, final, with_, k = ISSUE
    cascades = {
        "choice": Cascade(list(steps), final, [AgreementVerifier(with_, k)]),
        "code": Cascade(list(steps), final, [AgreementVerifier(with_, 1, {"choice": 1.0, "number": 1.0,
                                                                          "code": 0.5, "text": 0.8})]),
    }
    sample = random.Random(0).sample(outcomes, min(len(outcomes), 600 if args.quick else len(outcomes)))
    overhead(sample, cascades, repeat=3 if args.quick else 5)
    clf = default_classifier()
    table = ReplayTable(outcomes, [clf.classify(o.messages).score for o in outcomes])
    space = SearchSpace(voters=4, pair_from=3) if args.quick else SearchSpace()
    held_out_tables(table, space)
    code_verifiers(table)


if __name__ == "__main__":
    main()
