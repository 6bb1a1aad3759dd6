"""Small generated outcome files (never the shared data sets)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

STRONG, WEAK, MID = "big-model", "small-model", "mid-model"

_HARD = (
    "Prove that the sum of the first {n} odd numbers is a perfect square, derive the closed "
    "form step by step, then write a Python function and analyze its complexity."
)
_EASY = "What is the capital of country number {n}?"


def outcome_rows(n: int = 40) -> list[dict[str, Any]]:
    """Half hard prompts (only the strong model right), half easy ones (every model right)."""
    rows: list[dict[str, Any]] = []
    for i in range(n):
        hard = i % 2 == 0
        rows.append(
            {
                "id": f"row-{i}",
                "source": "test/synthetic",
                "category": "hard" if hard else "easy",
                "prompt": (_HARD if hard else _EASY).format(n=i),
                "scores": {
                    STRONG: 1.0,
                    MID: 1.0 if (not hard or i % 4 == 0) else 0.0,
                    WEAK: 0.0 if hard else 1.0,
                },
                "unknown_key": {"ignored": True},
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def outcome_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "outcomes.jsonl", outcome_rows())


@pytest.fixture
def prices_file(tmp_path: Path) -> Path:
    prices = {
        STRONG: {"input_per_mtok": 10.0, "output_per_mtok": 30.0},
        MID: {"input_per_mtok": 2.0, "output_per_mtok": 6.0},
        WEAK: {"input_per_mtok": 0.1, "output_per_mtok": 0.3},
    }
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(prices), encoding="utf-8")
    return path


# --- outcome files with recorded answers, for cascades --------------------------------------

#: $ per million input / output tokens of the cascade test pool.
CASCADE_PRICES = {"cheap-a": (0.1, 0.1), "cheap-b": (0.2, 0.4), "mid": (1.0, 2.0), "big": (10.0, 30.0)}
#: Chance that each model answers right, per task.
_ACCURACY = {
    "quiz": {"cheap-a": 0.6, "cheap-b": 0.7, "mid": 0.8, "big": 0.95},
    "riddles": {"cheap-a": 0.5, "cheap-b": 0.55, "mid": 0.75, "big": 0.9},
    "code": {"cheap-a": 0.4, "cheap-b": 0.6, "mid": 0.7, "big": 0.9},
}
_FORMS = ["{}", "({})", "Answer: {}", "{})"]


def _choice_row(task: str, i: int, rng: random.Random) -> tuple[str, dict[str, str], dict[str, float]]:
    letters = "ABCD"
    right = rng.choice(letters)
    prompt = f"{task} question {i}: which option is right?\n" + "\n".join(f"{x}) option {x}{i}" for x in letters)
    hardness = rng.random()
    responses, scores = {}, {}
    for model, p in _ACCURACY[task].items():
        ok = hardness + rng.gauss(0, 0.05) < p
        letter = right if ok else rng.choice([x for x in letters if x != right])
        responses[model] = rng.choice(_FORMS).format(letter)
        scores[model] = 1.0 if ok else 0.0
    return prompt, responses, scores


def _code_row(i: int, rng: random.Random) -> tuple[str, dict[str, str], dict[str, float]]:
    prompt = f"Write a function to add {i} to a number."
    hardness = rng.random()
    responses, scores = {}, {}
    for model, p in _ACCURACY["code"].items():
        ok = hardness + rng.gauss(0, 0.05) < p
        name, arg = rng.choice(["add", "plus", "inc"]), rng.choice(["x", "n", "value"])
        body = f"{arg} + {i}" if ok else rng.choice([f"{arg} - {i}", f"{arg} * {i}", f"{i}"])
        responses[model] = f"Here it is:\n```python\ndef {name}_{i}({arg}):\n    return {body}\n```\nDone."
        scores[model] = 1.0 if ok else 0.0
    return prompt, responses, scores


def cascade_rows(per_task: int = 60, seed: int = 7) -> list[dict[str, Any]]:
    """Three tasks (two multiple-choice, one code) answered by four models whose right answers
    agree; costs are the prices above times token counts, so prices can be read back."""
    from costroute.router._tokens import default_counter

    count = default_counter("cl100k_base").count
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for task in ("quiz", "riddles", "code"):
        for i in range(per_task):
            prompt, responses, scores = _code_row(i, rng) if task == "code" else _choice_row(task, i, rng)
            costs = {m: (count(prompt) * pin + count(responses[m]) * pout) / 1e6
                     for m, (pin, pout) in CASCADE_PRICES.items()}
            rows.append({"id": f"{task}-{i}", "source": f"test/{task}", "task": task, "prompt": prompt,
                         "scores": scores, "costs_usd": costs, "responses": responses})
    return rows


@pytest.fixture
def cascade_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "answers.jsonl", cascade_rows())
