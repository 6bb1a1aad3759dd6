"""Small generated outcome files (never the shared data sets)."""

from __future__ import annotations

import json
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
