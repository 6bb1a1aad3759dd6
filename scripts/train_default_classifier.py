"""Reproduce the shipped classifier weights: ``python scripts/train_default_classifier.py``.

Reads the outcome files from ``../shared/data`` (next to the repository; ``--data`` to change)
and writes ``src/costroute/router/weights/learned-v2.json.gz`` (the vocabulary format: ridge
regression over word uni/bigram presence and the heuristic's signals, see
:mod:`costroute.evaluation._train` for the settings and why). Needs the ``train`` extra.
Byte-for-byte reproducible.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from costroute.evaluation._data import load_outcomes
from costroute.evaluation._train import TrainingSet, fit_payload, save_payload
from costroute.router._learned import DEFAULT_WEIGHTS, LearnedClassifier

ROOT = Path(__file__).resolve().parent.parent
#: The data sets, and the strong model and weak model(s) whose quality gap labels each.
#: (Labelling LLMRouter with nemotron-51b against the mean of qwen2.5-7b, llama-3.1-8b and
#: gemma-2-9b instead was tried: better on the nine-model cost curve, worse on held-out
#: subjects, tasks and data sets, which matter more for traffic unlike these files.)
PAIRS: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "routellm-mmlu.jsonl": ("openai/gpt-4-1106-preview", "mistralai/mixtral-8x7b-instruct"),
    "llmrouter-train.jsonl": ("llama-3.1-nemotron-51b-instruct", "qwen2.5-7b-instruct"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "-o", "--output", type=Path, default=ROOT / "src" / "costroute" / "router" / "weights" / DEFAULT_WEIGHTS
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    sets = [
        TrainingSet(load_outcomes(args.data / file), strong, weak, name=file) for file, (strong, weak) in PAIRS.items()
    ]
    payload = fit_payload(sets)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_payload(payload, args.output)
    clf = LearnedClassifier.load(args.output)
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({size / 1e6:.2f} MB) in {time.perf_counter() - t0:.1f}s: {clf!r}")


if __name__ == "__main__":
    main()
