"""Labelled traffic in a real SQLite ledger: prompts answered by two models, with feedback."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from costroute.spend import SpendRecord, SQLiteLedger

STRONG, WEAK = "openai/big", "openai/small"
T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)
_HARD = "Derive the eigenvalue bound for matrix family {i} and prove convergence of the iteration"
_EASY = "Tell me the opening hours listed for the public library branch numbered {i} this week"


def write_traffic(path: Path, prompts: int = 160, *, seed: int = 0) -> Path:
    """Prompts of equal length, half needing the strong model (the weak one fails them), each
    answered by both models with application feedback on both answers."""
    rng = random.Random(seed)
    ledger = SQLiteLedger(path, store_prompts=True)
    try:
        for i in range(prompts):
            hard = i % 2 == 0
            text = (_HARD if hard else _EASY).format(i=i)
            for model in (STRONG, WEAK):
                rid = f"cr-{i}-{model[-3:]}"
                ledger.append(SpendRecord(
                    request_id=rid, attempt=1, ts=T0 + timedelta(seconds=i), model=model, provider="openai",
                    status="ok", prompt_hash=f"p{i}", prompt_text=text,
                ))
                right = model == STRONG or not hard or rng.random() < 0.1
                ledger.record_feedback(rid, 1.0 if right else 0.0, T0 + timedelta(seconds=i, milliseconds=1))
    finally:
        ledger.close()
    return path


@pytest.fixture
def traffic_ledger(tmp_path: Path) -> Path:
    return write_traffic(tmp_path / "ledger.sqlite3")
