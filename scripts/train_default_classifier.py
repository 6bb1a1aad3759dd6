"""Reproduce the shipped classifier weights: ``python scripts/train_default_classifier.py``.

Reads the outcome files from ``../shared/data`` (next to the repository; ``--data`` to change)
and writes, under ``src/costroute/router/weights/``:

* ``blend-v1.json.gz``, the default: prompt length blended with a ridge model on cheap surface
  features, trained on all four files, each labelled by its own strong/weak pair
  (:mod:`costroute.evaluation._blend`), less the questions ``costroute demo`` replays (its sample,
  ``src/costroute/demo/data/``, is held out so the demo's quality figures are out of sample);
* ``learned-v2.json.gz`` with ``--learned-v2``: the previous default, ridge regression over
  word uni/bigram presence and the heuristic's signals (:mod:`costroute.evaluation._train`).

Needs the ``train`` extra. Byte-for-byte reproducible.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from costroute.demo import load_sample
from costroute.evaluation._blend import fit_blend
from costroute.evaluation._data import auto_pair, load_outcomes
from costroute.evaluation._train import TrainingSet, fit_payload, save_payload
from costroute.router._blend import DEFAULT_BLEND_WEIGHTS, BlendClassifier
from costroute.router._learned import DEFAULT_WEIGHTS, LearnedClassifier

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "src" / "costroute" / "router" / "weights"
#: learned-v2's data sets, and the strong model and weak model(s) whose quality gap labels each.
#: (Labelling LLMRouter with nemotron-51b against the mean of qwen2.5-7b, llama-3.1-8b and
#: gemma-2-9b instead was tried: better on the nine-model cost curve, worse on held-out
#: subjects, tasks and data sets, which matter more for traffic unlike these files.)
PAIRS: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "routellm-mmlu.jsonl": ("openai/gpt-4-1106-preview", "mistralai/mixtral-8x7b-instruct"),
    "llmrouter-train.jsonl": ("llama-3.1-nemotron-51b-instruct", "qwen2.5-7b-instruct"),
}
#: blend-v1's data sets: every file, the two above with their pairs, the others with
#: ``auto_pair`` (the best model, and the weakest reaching 75 % of its quality).
BLEND_FILES = ("routellm-mmlu.jsonl", "llmrouter-train.jsonl", "routerdc-train.jsonl", "routerbench-train.jsonl")


def blend_sets(data: Path) -> list[TrainingSet]:
    """blend-v1's training sets (also what the benchmark holds tasks and sources out of), without
    the demo's questions."""
    demo = load_sample()
    demo_ids = {row.id for row in demo.rows}
    sets = []
    for file in BLEND_FILES:
        outcomes = load_outcomes(data / file)
        if file == demo.source_file:
            outcomes = [o for o in outcomes if o.id not in demo_ids]
        strong, weak = PAIRS.get(file) or auto_pair(outcomes)
        sets.append(TrainingSet(outcomes, strong, weak, name=file))
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="directory to write the weights to")
    parser.add_argument("--learned-v2", action="store_true", help="also rewrite learned-v2 (slow)")
    args = parser.parse_args()
    args.weights.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    out = args.weights / DEFAULT_BLEND_WEIGHTS
    payload = fit_blend(blend_sets(args.data))
    payload["metadata"]["held_out"] = [load_sample().name]  # the demo's questions (see blend_sets)
    save_payload(payload, out)
    print(f"wrote {out} ({out.stat().st_size / 1e3:.1f} KB) in {time.perf_counter() - t0:.1f}s: "
          f"{BlendClassifier.load(out)!r}")
    if args.learned_v2:
        t0 = time.perf_counter()
        sets = [TrainingSet(load_outcomes(args.data / f), s, w, name=f) for f, (s, w) in PAIRS.items()]
        out = args.weights / DEFAULT_WEIGHTS
        save_payload(fit_payload(sets), out)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - t0:.1f}s: "
              f"{LearnedClassifier.load(out)!r}")


if __name__ == "__main__":
    main()
