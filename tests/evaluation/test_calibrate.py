"""Choosing thresholds for a goal."""

from __future__ import annotations

from pathlib import Path

import pytest

from costroute import ConfigError
from costroute.evaluation import Goal, calibrate, load_outcomes, model_qualities, parse_goal

from .conftest import STRONG, WEAK


@pytest.mark.parametrize(
    ("text", "goal"),
    [
        ("premium-share=0.3", Goal("premium-share", 0.3)),
        ("premium_share=30%", Goal("premium-share", 0.3)),
        ("quality=0.95", Goal("quality", 0.95)),
    ],
)
def test_parse_goal(text: str, goal: Goal) -> None:
    parsed = parse_goal(text)
    assert parsed.kind == goal.kind
    assert parsed.value == pytest.approx(goal.value)


@pytest.mark.parametrize("text", ["speed=1", "quality", "quality=abc", "quality=1.5"])
def test_bad_goals(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_goal(text)


def test_calibrate_for_both_goals(outcome_file: Path) -> None:
    outcomes = load_outcomes(outcome_file)
    difficulty = [1.0 if o.group == "hard" else 0.0 for o in outcomes]  # a perfect classifier
    q = calibrate(outcomes, difficulty, strong=STRONG, weak=WEAK, goal=parse_goal("quality=1"))
    assert q.premium_share == pytest.approx(0.5)
    assert q.quality == pytest.approx(1.0)
    assert q.threshold == 1.0
    s = calibrate(outcomes, difficulty, strong=STRONG, weak=WEAK, goal=parse_goal("premium-share=0.3"))
    assert s.premium_share == 0.0  # the hard half cannot be split below 50 %
    assert s.quality == pytest.approx(0.5)
    assert s.threshold == 1.0
    policy = q.config["policies"]["default"]
    assert policy["thresholds"] == {"economy": 0.0, "premium": 1.0}
    assert q.config["tiers"]["premium"] == pytest.approx(1.0)
    assert {m["name"] for m in q.config["models"]} == {STRONG, WEAK}


def test_model_qualities(outcome_file: Path) -> None:
    quals = model_qualities(load_outcomes(outcome_file))
    assert quals[STRONG] == 1.0
    assert quals[WEAK] == 0.5


def test_calibrate_needs_one_score_per_outcome(outcome_file: Path) -> None:
    with pytest.raises(ValueError):
        calibrate(load_outcomes(outcome_file), [0.1], strong=STRONG, weak=WEAK, goal=Goal("quality", 0.9))
