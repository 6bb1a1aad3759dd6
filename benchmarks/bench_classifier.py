"""Classifier benchmark: ``python benchmarks/bench_classifier.py [--data DIR] [--quick]``.

Prints the shipped classifier's load time and scoring latency (p50/p99 for ~1k and ~2k-token
prompts), then routing quality on the outcome files in ``../shared/data``:

* strong/weak APGR, CPT(50 %), C95 for the RouteLLM MMLU pair and the LLMRouter
  nemotron-51b / qwen2.5-7b pair, for baselines and for learned-v2 **cross-fitted** (5-fold
  random folds; subject/task-grouped folds; and whole-data-set hold-out);
* the nine-model cost-quality comparison: what the default difficulty policy pays to reach
  the best single model's mean quality, against that model and the cost-mix frontier; and,
  for comparison, a per-model policy over cross-fitted predicted qualities of all nine models
  (not something the default policy can express).

Every learned-v2 figure comes from predictions on prompts the model was not trained on.
Needs the ``train`` extra for the cross-fitted figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from costroute.evaluation import (
    Outcome,
    area_between,
    cost_at_quality,
    cost_mix_frontier,
    evaluate_pair,
    length_scores,
    load_outcomes,
    model_ladder,
    oracle_point,
    oracle_scores,
    pareto_frontier,
    policy_points,
    price_prompts,
    quality_at_cost,
    random_scores,
    single_model_points,
    utility_policy_points,
)
from costroute.evaluation._train import TrainingSet, cross_fit, cross_fit_models, guess_task
from costroute.router import HeuristicClassifier, LearnedClassifier
from costroute.router._tokens import TokenCounter, default_counter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from train_default_classifier import PAIRS  # noqa: E402  (the shipped model's labels)

MMLU = ("routellm-mmlu.jsonl", "openai/gpt-4-1106-preview", "mistralai/mixtral-8x7b-instruct")
LLMR = ("llmrouter-train.jsonl", "llama-3.1-nemotron-51b-instruct", "qwen2.5-7b-instruct")


def _pct(ts: list[float], q: float) -> float:
    s = sorted(ts)
    return s[min(len(s) - 1, int(q * len(s)))]


def _exact(counter: object) -> bool:
    return bool(getattr(counter, "exact", False))


def _cut(text: str, tokens: int, counter: TokenCounter) -> str:
    """The longest prefix of ``text`` with at most ``tokens`` tokens (binary search on chars)."""
    lo, hi = 0, min(len(text), tokens * 8)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if counter.count(text[:mid]) <= tokens:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


def bench_speed(texts: Sequence[str]) -> None:
    code = (
        "import time; t=time.perf_counter(); import costroute.router as r; "
        "c=r.LearnedClassifier.load(); print((time.perf_counter()-t)*1e3)"
    )
    cold = [float(subprocess.check_output([sys.executable, "-c", code])) for _ in range(5)]
    t0 = time.perf_counter()
    clf = LearnedClassifier.load()
    warm = (time.perf_counter() - t0) * 1e3
    print(f"load: import+load in a fresh process median {statistics.median(cold):.1f} ms, load() alone {warm:.1f} ms")
    counter = default_counter("cl100k_base")
    corpus = "\n\n".join(texts)
    for target in (1000, 2000):
        prompts = [_cut(corpus[i * 50_000 :], target, counter) for i in range(20)]
        tokens = statistics.mean(counter.count(p) for p in prompts)
        print(f"({target}-token prompts: mean {tokens:.0f} cl100k tokens, exact={_exact(counter)})")
        for name, c in (("heuristic-v1", HeuristicClassifier()), ("learned-v2", clf)):
            ts: list[float] = []
            for _ in range(25):
                for p in prompts:
                    msgs = [{"role": "user", "content": p}]
                    t = time.perf_counter()
                    c.classify(msgs)
                    ts.append((time.perf_counter() - t) * 1e6)
            print(
                f"latency {name:13s} {target}-token prompt: p50 {_pct(ts, 0.5):7.0f} us   p99 {_pct(ts, 0.99):7.0f} us"
            )


def _row(name: str, scores: Sequence[float], outs: Sequence[Outcome], s: str, w: str) -> None:
    r = evaluate_pair(scores, [o.scores[s] for o in outs], [o.scores[w] for o in outs])

    def f(x: float | None) -> str:
        return "   n/a" if x is None else f"{100 * x:5.1f}%"

    print(f"  {name:44s} APGR {r.apgr:6.3f}  CPT50 {f(r.cpt50)}  C95 {f(r.c95)}")


def _seed_spread(
    sets: Sequence[TrainingSet], pairs: Sequence[tuple[str, str, str]], seeds: int, seed0: list[list[float]]
) -> None:
    """APGR of random 5-fold cross-fitting over several fold seeds: how much of a figure is the split.
    ``seed0`` is the seed-0 run already made for the rows above."""
    runs = [seed0, *(cross_fit(sets, k=5, seed=seed) for seed in range(1, seeds))]
    print(f"\nlearned-v2, 5-fold random over fold seeds 0..{seeds - 1} (the rows above use seed 0):")
    for i, (ts, (_, s, w)) in enumerate(zip(sets, pairs, strict=True)):
        strong, weak = [o.scores[s] for o in ts.outcomes], [o.scores[w] for o in ts.outcomes]
        apgrs = [evaluate_pair(run[i], strong, weak).apgr for run in runs]
        print(
            f"  {ts.outcomes[0].source:20s} APGR mean {statistics.mean(apgrs):.3f} "
            f"sd {statistics.pstdev(apgrs):.3f} (min {min(apgrs):.3f}, max {max(apgrs):.3f})"
        )


def bench_quality(data: Path, quick: bool, seeds: int = 1) -> None:
    mm = load_outcomes(data / MMLU[0])
    lr = load_outcomes(data / LLMR[0])
    sets = [
        TrainingSet(mm, MMLU[1], MMLU[2], "mmlu"),
        TrainingSet(lr, LLMR[1], PAIRS["llmrouter-train.jsonl"][1], "llmr"),
    ]
    heur = HeuristicClassifier()
    folds: dict[str, list[list[float]]] = {}
    t0 = time.perf_counter()
    folds["5-fold random"] = cross_fit(sets, k=5)
    if not quick:
        groups = [f"mmlu:{o.group}" for o in mm] + [f"llmr:{guess_task(o.text)}" for o in lr]
        folds["6-fold grouped by subject/task"] = cross_fit(sets, k=6, groups=groups)
        folds["other data set held out"] = cross_fit(sets, k=2, groups=["mmlu"] * len(mm) + ["llmr"] * len(lr))
    print(f"(cross-fitting took {time.perf_counter() - t0:.0f}s)")
    for i, (outs, (_, s, w)) in enumerate(((mm, MMLU), (lr, LLMR))):
        print(f"\n{outs[0].source}: strong {s}  weak {w}  ({len(outs)} prompts)")
        _row("random", random_scores(len(outs)), outs, s, w)
        _row("prompt length", length_scores([o.text for o in outs]), outs, s, w)
        _row("heuristic-v1", [heur.classify(o.messages).score for o in outs], outs, s, w)
        for name, preds in folds.items():
            _row(f"learned-v2, {name}", preds[i], outs, s, w)
        _row("oracle (hindsight)", oracle_scores([o.scores[s] for o in outs], [o.scores[w] for o in outs]), outs, s, w)
    if seeds > 1:
        _seed_spread(sets, (MMLU, LLMR), seeds, folds["5-fold random"])
    tasks = sorted({guess_task(o.text) for o in lr})
    key = "6-fold grouped by subject/task"
    if key in folds:
        print(f"\nLLMRouter per task, task held out ({key}) vs heuristic-v1 / length:")
        for t in tasks:
            idx = [j for j, o in enumerate(lr) if guess_task(o.text) == t]
            sub = [lr[j] for j in idx]
            print(f"  task {t} ({len(idx)} prompts)")
            _row("  learned-v2", [folds[key][1][j] for j in idx], sub, LLMR[1], LLMR[2])
            _row("  heuristic-v1", [heur.classify(o.messages).score for o in sub], sub, LLMR[1], LLMR[2])
            _row("  prompt length", length_scores([o.text for o in sub]), sub, LLMR[1], LLMR[2])
    bench_multi(
        data, lr, {k: v[1] for k, v in folds.items()}, {"heuristic-v1": [heur.classify(o.messages).score for o in lr]}
    )


def bench_multi(
    data: Path, lr: Sequence[Outcome], learned: dict[str, list[float]], others: dict[str, list[float]]
) -> None:
    counter = default_counter("cl100k_base")
    raw = json.loads((data / "llmrouter-prices.json").read_text())
    prices = {m: (p["input_per_mtok"], p["output_per_mtok"]) for m, p in raw.items() if m in lr[0].scores}
    costs = price_prompts(
        [o.text for o in lr],
        prices,
        output_tokens=200,
        count_tokens=counter.count,
    )
    quals = [dict(o.scores) for o in lr]
    singles = single_model_points(quals, costs)
    best = max(singles.values(), key=lambda p: p.quality)
    ladder = model_ladder(singles)
    hull = cost_mix_frontier(singles)
    oracle = oracle_point(quals, costs)
    print(f"\nNine models, 200 output tokens, cl100k input tokens (exact={_exact(counter)}, {len(lr)} prompts)")
    for p in sorted(singles.values(), key=lambda p: p.cost):
        print(f"  single {p.label:34s} ${p.cost * 1e3:.4f}/1k prompts  quality {p.quality:.3f}")
    print(f"  ladder (Pareto single models): {' < '.join(ladder)}")
    print(f"  oracle (cheapest best model)   ${oracle.cost * 1e3:.4f}/1k  quality {oracle.quality:.3f}")
    mix = next((c for c in _grid(hull) if quality_at_cost(hull, c) >= best.quality), None)
    print(
        f"  cost-mix frontier reaches {best.quality:.3f} at "
        f"{'n/a' if mix is None else f'{mix / best.cost:.0%}'} of {best.label}'s cost"
    )
    for name, diff in {**{f"learned-v2, {k}": v for k, v in learned.items()}, **others}.items():
        pts = policy_points(diff, quals, costs, ladder, steps=40)
        front = pareto_frontier(pts)
        at = cost_at_quality(pts, best.quality)
        ratio = "not reached" if at is None else f"{at.cost / best.cost:.1%} of its cost"
        print(
            f"  policy [{name}]: best-single quality at {ratio}; "
            f"max quality {max(p.quality for p in pts):.3f}; "
            f"area over cost-mix {area_between(front, hull):+.4f}"
        )
    # What one difficulty score could do at best: the true gap between the ladder's top and
    # bottom rungs, known in hindsight, as the score.
    top, bottom = ladder[-1], ladder[0]
    gap = [q[top] - q[bottom] for q in quals]
    at = cost_at_quality(policy_points(gap, quals, costs, ladder, steps=40), best.quality)
    print(
        f"  policy [hindsight: true {top} - {bottom} gap as the score]: best-single quality at "
        f"{'not reached' if at is None else f'{at.cost / best.cost:.1%} of its cost'}"
    )
    # Not the default policy: it needs a router that picks a model per prompt from predicted
    # per-model qualities (the default policy maps one difficulty score to a tier).
    for name, groups in (("5-fold random", None), ("6-fold grouped by task", [guess_task(o.text) for o in lr])):
        predicted = cross_fit_models(lr, list(singles), k=5 if groups is None else 6, groups=groups)
        pts = utility_policy_points(predicted, quals, costs)
        at = cost_at_quality(pts, best.quality)
        ratio = "not reached" if at is None else f"{at.cost / best.cost:.1%} of its cost"
        print(
            f"  per-model predictor policy [{name}], argmax predicted quality - penalty * cost: "
            f"best-single quality at {ratio}; max quality {max(p.quality for p in pts):.3f}"
        )


def _grid(hull: Sequence) -> list[float]:  # type: ignore[type-arg]
    lo, hi = hull[0].cost, hull[-1].cost
    return [lo + (hi - lo) * i / 1000 for i in range(1001)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="random folds only")
    parser.add_argument("--seeds", type=int, default=5, help="fold seeds for the random-fold spread (1: skip)")
    args = parser.parse_args()
    texts = [o.text for o in load_outcomes(args.data / LLMR[0])]
    bench_speed(texts)
    bench_quality(args.data, args.quick, args.seeds)


if __name__ == "__main__":
    main()
