"""The replay harness: held-back parts (later traffic, whole unseen tasks) and learning curves."""

from __future__ import annotations

import random

import pytest

from costroute.evaluation import Outcome
from costroute.evaluation._replay import hold_back, replay


def _traffic(n: int = 300) -> list[Outcome]:
    rng = random.Random(1)
    out = []
    for i in range(n):
        task = ("algebra", "geometry", "trivia", "recipes", "travel")[i % 5]
        hard = task in ("algebra", "geometry") and rng.random() < 0.6
        words = "prove the bound rigorously" if hard else "quick lookup please"
        out.append(Outcome(
            id=f"o{i}", prompt=f"{task} question {i}: {words}", task=task,
            scores={"big": 1.0, "small": 0.0 if hard else 1.0},
        ))
    return out


def test_same_tasks_holds_back_a_share_of_later_traffic() -> None:
    stream, held = hold_back(_traffic(), "same-tasks", seed=3)
    assert len(held) == 90 and len(stream) == 210
    assert {o.id for o in stream}.isdisjoint(o.id for o in held)
    assert {o.task for o in held} == {o.task for o in stream}  # the same task mix
    assert hold_back(_traffic(), "same-tasks", seed=3) == (stream, held)  # deterministic


def test_unseen_tasks_holds_back_whole_tasks() -> None:
    stream, held = hold_back(_traffic(), "unseen-tasks", seed=0)
    assert held and stream
    assert {o.task for o in held}.isdisjoint(o.task for o in stream)
    assert len(held) >= 0.3 * 300
    with pytest.raises(ValueError):
        hold_back([o for o in _traffic() if o.task == "trivia"], "unseen-tasks")
    with pytest.raises(ValueError):
        hold_back(_traffic(), "sideways")


def test_the_learning_curve_learns_the_traffic() -> None:
    pytest.importorskip("sklearn")
    curve = replay(_traffic(), "big", "small", split="same-tasks", counts=(60, 200, 5000))
    assert [p.labels for p in curve.points] == [60, 200]  # 5000 is more than the stream holds
    assert curve.points[-1].apgr > 0.8  # the words of hard prompts are learned
    assert curve.held == 90 and 0.0 <= curve.length_apgr <= 1.5
