"""Classifier benchmark: ``python benchmarks/bench_classifier.py [--data DIR] [--quick]``.

Prints scoring latency (p50/p99 for ~1k and ~2k-token prompts, every classifier measured side by
side in one run), then routing quality on the four outcome files in ``../shared/data``, every
learned figure **cross-fitted** three ways:

* random 5-fold (near-duplicate prompts of a task land on both sides: optimistic);
* task held out: each prompt scored by a model trained without any prompt of its task, in any
  file (``task``; MMLU's file counts as the task ``mmlu``);
* source held out: each file scored by a model trained on the other files only;

next to prompt length, heuristic-v1 and random, for each file's pair (whole files, mixed tasks)
and then per task (each task's own pair: the best model and the weakest reaching 75 % of it).
The guard rail: no held-out set below ``max(random, prompt length) - 0.03``. Sets whose pair is
too close to measure (bootstrap sd of length's APGR above 0.06, or a quality gap under 0.03) are
shown but not counted. ``--quick`` skips learned-v2 (the slow part, ~10 minutes).
Needs the ``train`` extra.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from costroute.evaluation import Outcome, auto_pair, evaluate_pair, length_scores, oracle_scores
from costroute.evaluation._blend import cross_fit_blend
from costroute.evaluation._train import TrainingSet, cross_fit
from costroute.router import BlendClassifier, HeuristicClassifier, LearnedClassifier
from costroute.router._tokens import TokenCounter, default_counter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from train_default_classifier import blend_sets  # noqa: E402  (the shipped model's data and labels)

_CANON = {"human_eval": "humaneval", "winograde": "winogrande"}


def task_of(o: Outcome, file: str) -> str:
    return _CANON.get(o.task, o.task) or ("mmlu" if "mmlu" in file else o.group)


def _pct(ts: list[float], q: float) -> float:
    s = sorted(ts)
    return s[min(len(s) - 1, int(q * len(s)))]


def _cut(text: str, tokens: int, counter: TokenCounter) -> str:
    lo, hi = 0, min(len(text), tokens * 8)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if counter.count(text[:mid]) <= tokens:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


def bench_speed(texts: Sequence[str]) -> None:
    counter = default_counter("cl100k_base")
    corpus = "\n\n".join(texts)
    classifiers = (("blend-v1 (default)", BlendClassifier.load()), ("learned-v2", LearnedClassifier.load()),
                   ("heuristic-v1", HeuristicClassifier()))
    print("latency, measured side by side in one run (2 shared cores: compare the rows, not runs):")
    for target in (1000, 2000):
        prompts = [_cut(corpus[i * 50_000 :], target, counter) for i in range(20)]
        tokens = statistics.mean(counter.count(p) for p in prompts)
        print(f"  ({target}-token prompts: mean {tokens:.0f} cl100k tokens, exact={getattr(counter, 'exact', False)})")
        times: dict[str, list[float]] = {name: [] for name, _ in classifiers}
        cpu: dict[str, list[float]] = {name: [] for name, _ in classifiers}
        for _ in range(25):
            for p in prompts:
                msgs = [{"role": "user", "content": p}]
                for name, c in classifiers:
                    t, tc = time.perf_counter(), time.thread_time()
                    c.classify(msgs)
                    times[name].append((time.perf_counter() - t) * 1e6)
                    cpu[name].append((time.thread_time() - tc) * 1e6)
        for name, ts in times.items():
            print(f"  {name:20s} {target}-token prompt: p50 {_pct(ts, 0.5):6.0f} us   p99 {_pct(ts, 0.99):6.0f} us"
                  f"   (CPU time of the thread, which waiting for a core does not count: "
                  f"p50 {_pct(cpu[name], 0.5):6.0f} us  p99 {_pct(cpu[name], 0.99):6.0f} us)")


def _apgr(scores: Sequence[float], outs: Sequence[Outcome], pair: tuple[str, str]) -> float:
    s, w = pair
    return evaluate_pair(scores, [o.scores[s] for o in outs], [o.scores[w] for o in outs]).apgr


def _noise(outs: Sequence[Outcome], pair: tuple[str, str], draws: int = 30) -> float:
    """Bootstrap sd of prompt length's APGR on the set: how much a figure on it can move by chance."""
    rng = random.Random(0)
    lengths = length_scores([o.text for o in outs])
    vals = []
    for _ in range(draws):
        idx = [rng.randrange(len(outs)) for _ in outs]
        vals.append(_apgr([lengths[i] for i in idx], [outs[i] for i in idx], pair))
    return statistics.pstdev(vals)


def _cross_fits(sets: Sequence[TrainingSet], quick: bool) -> dict[str, list[float]]:
    """Out-of-fold scores of every prompt (all sets concatenated) per candidate and hold-out."""
    outcomes = [(s.name, o) for s in sets for o in s.outcomes]
    rng = random.Random(0)
    folds = [str(rng.randrange(5)) for _ in outcomes]
    by_task = [task_of(o, f) for f, o in outcomes]
    by_source = [f for f, _ in outcomes]
    out: dict[str, list[float]] = {}
    for hold, groups in (("random 5-fold", folds), ("task held out", by_task), ("source held out", by_source)):
        t0 = time.perf_counter()
        out[f"blend-v1, {hold}"] = [v for part in cross_fit_blend(sets, groups) for v in part]
        if not quick:
            k = len(set(groups))
            out[f"learned-v2 recipe, {hold}"] = [v for part in cross_fit(sets, k=k, groups=groups) for v in part]
        print(f"(cross-fit, {hold}: {time.perf_counter() - t0:.0f}s)", flush=True)
    return out


def _row(name: str, value: float, length: float | None = None) -> str:
    mark = "" if length is None else ("  BELOW" if value < max(0.5, length) - 0.03 else "")
    return f"  {name:36s} APGR {value:6.3f}{mark}"


def bench_quality(data: Path, quick: bool) -> None:
    sets = blend_sets(data)
    preds = _cross_fits(sets, quick)
    heur = HeuristicClassifier()
    start = 0
    summary: dict[str, list[tuple[float, float]]] = {}
    per_task: list[tuple[str, Sequence[Outcome], tuple[str, str], dict[str, list[float]]]] = []
    for s in sets:
        outs = list(s.outcomes)
        mine = {k: v[start : start + len(outs)] for k, v in preds.items()}
        start += len(outs)
        pair = (s.strong, str(s.weak))
        length = _apgr(length_scores([o.text for o in outs]), outs, pair)
        print(f"\n{s.name}: strong {pair[0]}, weak {pair[1]} ({len(outs)} prompts, noise sd {_noise(outs, pair):.3f})")
        print(_row("random", _apgr([random.Random(1).random() for _ in outs], outs, pair)))
        print(_row("prompt length", length))
        print(_row("heuristic-v1", _apgr([heur.classify(o.messages).score for o in outs], outs, pair), length))
        for name, scores in mine.items():
            value = _apgr(scores, outs, pair)
            print(_row(name, value, length))
            summary.setdefault(name, []).append((value, length))
        print(_row("oracle (hindsight)", _apgr(oracle_scores([o.scores[pair[0]] for o in outs],
                                                             [o.scores[pair[1]] for o in outs]), outs, pair)))
        tasks = sorted({task_of(o, s.name) for o in outs})
        for t in tasks:
            idx = [i for i, o in enumerate(outs) if task_of(o, s.name) == t]
            if len(idx) >= 100 and len(tasks) > 1:
                sub = [outs[i] for i in idx]
                per_task.append((f"{s.name.split('-')[0]}/{t}", sub, auto_pair(sub),
                                 {k: [v[i] for i in idx] for k, v in mine.items()}))
    print("\nper task (each task's own pair; held-out figures only; 'noisy' sets are not counted):")
    names = [k for k in preds if "random" not in k]
    print(f"  {'set':28s}{'n':>6}{'sd':>7}{'length':>8}" + "".join(f"{n.replace(' held out', ''):>26}" for n in names))
    for label, sub, pair, mine in per_task:
        sd = _noise(sub, pair)
        gap = statistics.mean(o.scores[pair[0]] - o.scores[pair[1]] for o in sub)
        noisy = sd > 0.06 or gap < 0.03
        length = _apgr(length_scores([o.text for o in sub]), sub, pair)
        cells = []
        for n in names:
            value = _apgr(mine[n], sub, pair)
            cells.append(f"{value:.3f}{'*' if value < max(0.5, length) - 0.03 else ' '}")
            if not noisy:
                summary.setdefault(n, []).append((value, length))
        print(f"  {label:28s}{len(sub):6d}{sd:7.3f}{length:8.3f}" + "".join(f"{c:>26}" for c in cells)
              + ("  noisy" if noisy else ""))
    print("\nsummary over whole files and clean per-task sets (* / BELOW: under max(random, length) - 0.03):")
    lengths = [lv for _, lv in summary[names[0]]]
    print(f"  {'prompt length':36s} mean {statistics.mean(lengths):.3f}  "
          f"below {sum(1 for x in lengths if x < 0.47)}/{len(lengths)}")
    for name, pairs in summary.items():
        below = sum(1 for v, lv in pairs if v < max(0.5, lv) - 0.03)
        worst = min(v - max(0.5, lv) for v, lv in pairs)
        print(f"  {name:36s} mean {statistics.mean(v for v, _ in pairs):.3f}  below {below}/{len(pairs)}  "
              f"worst vs max(random, length) {worst:+.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="skip learned-v2's cross-fits")
    parser.add_argument("--no-speed", action="store_true", help="skip the latency figures")
    args = parser.parse_args()
    if not args.no_speed:
        from costroute.evaluation import load_outcomes

        bench_speed([o.text for o in load_outcomes(args.data / "llmrouter-train.jsonl")])
    bench_quality(args.data, args.quick)


if __name__ == "__main__":
    main()
