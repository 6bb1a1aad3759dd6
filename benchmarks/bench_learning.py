"""Learning from the user's own traffic, by simulation: ``python benchmarks/bench_learning.py``.

Each outcome file in ``../shared/data`` (``--data``) is replayed as labelled traffic (the
recorded scores stand in for the judge; see :mod:`costroute.evaluation._replay`). For each file's
pair it prints APGR of routing on a held-back part after 100, 300, 1,000 and 3,000 labels, with
the untrained default and prompt length on the same part, for two held-back parts: later traffic
of the same tasks, and whole unseen tasks. ``--seeds`` repeats over shuffles (mean and spread).
Every figure is on prompts the classifier was not trained on. Needs the ``train`` extra.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from costroute.evaluation import auto_pair, load_outcomes
from costroute.evaluation._blend import fit_blend
from costroute.evaluation._replay import LABEL_COUNTS, replay
from costroute.router import BlendClassifier

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from train_default_classifier import BLEND_FILES, PAIRS, blend_sets  # noqa: E402  (the files and their pairs)


def _fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f}±{statistics.pstdev(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--files", nargs="*", default=list(BLEND_FILES))
    args = parser.parse_args()
    t0 = time.perf_counter()
    print("APGR on the held-back part (random 0.5), after N labels; mean±sd over "
          f"{args.seeds} shuffle seed(s). 'default' = blend-v1 refitted without the file (source held out).")
    sets = blend_sets(args.data)
    header = "".join(f"{n:>13}" for n in LABEL_COUNTS)
    for file in args.files:
        outcomes = load_outcomes(args.data / file)
        strong, weak = PAIRS.get(file) or auto_pair(outcomes)
        prior = BlendClassifier.from_payload(fit_blend([t for t in sets if t.name != file], name="blend-heldout"))
        print(f"\n{file}: strong {strong}, weak {weak} ({len(outcomes)} prompts)")
        print(f"  {'held back':34s}{header}{'default':>13}{'length':>13}")
        for split in ("same-tasks", "unseen-tasks"):
            curves = [
                replay(outcomes, strong, weak, split=split, seed=seed, default=prior) for seed in range(args.seeds)
            ]
            cells = []
            for n in LABEL_COUNTS:
                vals = [p.apgr for c in curves for p in c.points if p.labels == n]
                cells.append(_fmt(vals) if vals else "n/a")
            held = statistics.mean(c.held for c in curves)
            label = "later traffic, same tasks" if split == "same-tasks" else "whole unseen tasks"
            print(f"  {label + f' ({held:.0f})':34s}" + "".join(f"{c:>13}" for c in cells)
                  + f"{_fmt([c.default_apgr for c in curves]):>13}{_fmt([c.length_apgr for c in curves]):>13}")
    print(f"\n({time.perf_counter() - t0:.0f}s)")


if __name__ == "__main__":
    main()
