#!/usr/bin/env python
"""Build the sample ``costroute demo`` replays: ``python scripts/build_demo_sample.py [--data DIR]``.

Source: ``routellm-mmlu.jsonl`` from the routing-outcome data sets (``../shared/data`` next to the
repository by default), itself derived from lm-sys/RouteLLM's ``routellm/evals/mmlu/responses``
(Apache-2.0): MMLU test questions (Hendrycks et al., MIT licence), each answered once by
``gpt-4-1106-preview`` and by ``mistralai/Mixtral-8x7B-Instruct-v0.1`` (5-shot, temperature 0,
``max_new_tokens=1``), with 0/1 correctness. It is the only outcome file whose licence allows
redistribution and whose models users know; RouteLLM recorded correctness, not answer texts.

How the sample is derived (deterministic, byte-for-byte reproducible):

1. per MMLU subject, the ``PER_SUBJECT`` rows with the lowest SHA-256 of their ``id`` (57 subjects,
   228 rows; ~170 kB), then all of them ordered by that hash, so any prefix mixes subjects;
2. scores are copied as recorded, under litellm model ids (``MODELS``);
3. ``usage`` is what the demo sends and gets back: the question as one user message, counted with
   tiktoken ``cl100k_base`` (GPT-4 Turbo's tokenizer) by costroute's offline counter, and the one
   answer token RouteLLM asked for. The same counts serve both models, so the baseline (the same
   usage at GPT-4 Turbo's price) is exact; Mixtral's own tokenizer counts somewhat more tokens;
4. ``costs_usd`` is that usage at each model's list price in costroute's bundled price snapshot,
   recorded with its date in the metadata file (the demo itself prices through the registry).

Writes ``src/costroute/demo/data/mmlu-sample.jsonl`` (the outcome format of ``costroute eval``) and
``mmlu-sample.json`` (source, licences, models, prices, how it was made, and the rows' SHA-256).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from costroute.pricing import PriceRegistry
from costroute.router._tokens import count_message_tokens, default_counter

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "costroute" / "demo" / "data"
SOURCE_FILE = "routellm-mmlu.jsonl"
NAME = "routellm-mmlu-sample-v1"
PER_SUBJECT = 4
COMPLETION_TOKENS = 1
#: litellm model id -> the name the model has in the source file.
MODELS = {
    "together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1": "mistralai/mixtral-8x7b-instruct",
    "openai/gpt-4-1106-preview": "openai/gpt-4-1106-preview",
}
BASELINE = "openai/gpt-4-1106-preview"
LABELS = {
    "together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1": "Mixtral-8x7B-Instruct (Together AI)",
    "openai/gpt-4-1106-preview": "GPT-4 Turbo (OpenAI, gpt-4-1106-preview)",
}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def select(rows: list[dict[str, Any]], per_subject: int = PER_SUBJECT) -> list[dict[str, Any]]:
    """``per_subject`` rows of every subject by hash of their id, all ordered by that hash."""
    by_subject: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_subject[row["subject"]].append(row)
    chosen = [r for group in by_subject.values() for r in sorted(group, key=lambda r: _digest(r["id"]))[:per_subject]]
    return sorted(chosen, key=lambda r: _digest(r["id"]))


def _prices(registry: PriceRegistry) -> dict[str, dict[str, str]]:
    out = {}
    for model in MODELS:
        sheet = registry.find(model)
        if sheet is None:
            raise SystemExit(f"the price snapshot no longer knows {model}")
        out[model] = {"input_per_mtok": str(sheet.input_per_mtok), "output_per_mtok": str(sheet.output_per_mtok),
                      "effective_date": sheet.effective_date or "", "source": sheet.source}
    return out


def build(data: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    with (data / SOURCE_FILE).open(encoding="utf-8") as lines:  # not splitlines(): prompts hold U+2028
        rows = [json.loads(line) for line in lines if line.strip()]
    counter = default_counter("cl100k_base")
    if not getattr(counter, "exact", False):
        raise SystemExit("tiktoken's cl100k_base encoding (shipped with litellm) is needed for exact counts")
    prices = _prices(PriceRegistry.default(plugins=False))
    sample = []
    for row in select(rows):
        tokens = count_message_tokens([{"role": "user", "content": row["prompt"]}], counter=counter)
        costs = {
            m: float((tokens * Decimal(p["input_per_mtok"]) + COMPLETION_TOKENS * Decimal(p["output_per_mtok"]))
                     / 1_000_000)
            for m, p in prices.items()
        }
        sample.append({
            "id": row["id"], "subject": row["subject"], "prompt": row["prompt"],
            "scores": {m: float(row["scores"][name]) for m, name in MODELS.items()},
            "costs_usd": costs,
            "usage": {"prompt_tokens": tokens, "completion_tokens": COMPLETION_TOKENS},
        })
    accuracy = {m: sum(r["scores"][name] for r in rows) / len(rows) for m, name in MODELS.items()}
    meta = {
        "name": NAME,
        "format": 1,
        "rows": len(sample),
        "description": (
            f"{len(sample)} MMLU questions ({PER_SUBJECT} per subject) with the recorded correctness of "
            "GPT-4 Turbo's and Mixtral-8x7B's answers, replayed by `costroute demo`."
        ),
        "source": {
            "name": "RouteLLM MMLU responses",
            "repository": "lm-sys/RouteLLM",
            "path": "routellm/evals/mmlu/responses",
            "licence": "Apache-2.0",
            "recorded": "5-shot prompts, temperature 0, max_new_tokens=1; correctness only, no answer text",
            "file": SOURCE_FILE,
        },
        "questions": {"name": "MMLU (Measuring Massive Multitask Language Understanding)",
                      "authors": "Dan Hendrycks et al.", "repository": "hendrycks/test", "licence": "MIT",
                      "notice": "Copyright (c) 2020 Dan Hendrycks"},
        "changes": (
            "subset of rows; model names mapped to litellm ids; usage (prompt tokens counted with tiktoken "
            "cl100k_base for the question alone, without RouteLLM's five worked examples, and the 1-token "
            "answer) and costs at list prices added"
        ),
        "built_by": "scripts/build_demo_sample.py",
        "baseline": BASELINE,
        "models": {
            m: {"label": LABELS[m], "recorded_as": name, "price": prices[m],
                "accuracy": round(accuracy[m], 4), "accuracy_in_sample": round(
                    sum(r["scores"][m] for r in sample) / len(sample), 4)}
            for m, name in MODELS.items()
        },
        "accuracy_note": f"`accuracy` is over all {len(rows)} questions of the source file; "
                         "the demo uses it as each model's quality",
    }
    return sample, meta


def write(sample: list[dict[str, Any]], meta: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in sample)
    rows_path, meta_path = out / "mmlu-sample.jsonl", out / "mmlu-sample.json"
    rows_path.write_text(text, encoding="utf-8")
    meta = {**meta, "rows_sha256": _digest(text)}
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return rows_path, meta_path


def _default_data() -> Path:
    """``shared/data`` next to the repository, or next to a parent of it (a git worktree)."""
    for parent in ROOT.parents:
        if (parent / "shared" / "data" / SOURCE_FILE).is_file():
            return parent / "shared" / "data"
    return ROOT.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=_default_data())
    parser.add_argument("-o", "--out", type=Path, default=OUT)
    args = parser.parse_args()
    sample, meta = build(args.data)
    for path in write(sample, meta, args.out):
        print(f"wrote {path} ({path.stat().st_size / 1000:.1f} kB)")


if __name__ == "__main__":
    main()
