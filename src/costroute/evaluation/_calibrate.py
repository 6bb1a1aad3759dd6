"""Picking policy thresholds for a goal from recorded outcomes. Pure functions.

Given a strong/weak pair, the classifier's difficulty for each prompt and the outcomes, choose
the difficulty at and above which requests need the premium tier, so that either

* at most ``premium-share`` of the requests go to the premium tier, or
* routed quality reaches ``quality`` times the strong model's mean quality (cheapest such).

Each model's ``quality`` is its mean score on the outcomes. The result is a configuration
mapping in costroute's config schema (``models``, ``tiers``, ``policies``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from costroute._errors import ConfigError
from costroute.evaluation._data import Outcome

__all__ = ["Calibration", "Goal", "calibrate", "model_qualities", "parse_goal"]


@dataclass(frozen=True, slots=True)
class Goal:
    """``kind`` is ``"premium-share"`` (a maximum share) or ``"quality"`` (a minimum fraction of
    the strong model's quality)."""

    kind: str
    value: float


@dataclass(frozen=True, slots=True)
class Calibration:
    """The chosen threshold and what it achieves on the outcomes."""

    threshold: float
    premium_share: float
    quality: float
    strong_quality: float
    weak_quality: float
    config: dict[str, Any]


def parse_goal(text: str) -> Goal:
    """Parse ``premium-share=0.3`` or ``quality=0.95`` (percentages like ``30%`` accepted)."""
    key, sep, raw = text.partition("=")
    key = key.strip().lower().replace("_", "-")
    if not sep or key not in ("premium-share", "quality"):
        raise ConfigError(f"goal {text!r}: use premium-share=FRACTION or quality=FRACTION")
    raw = raw.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConfigError(f"goal {text!r}: {raw!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"goal {text!r}: the value must be between 0 and 1")
    return Goal(key, value)


def model_qualities(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """Each model's mean score over the prompts where it was scored."""
    totals: dict[str, list[float]] = {}
    for o in outcomes:
        for m, s in o.scores.items():
            totals.setdefault(m, []).append(s)
    return {m: sum(v) / len(v) for m, v in sorted(totals.items())}


def _options(
    difficulty: Sequence[float], strong: Sequence[float], weak: Sequence[float]
) -> list[tuple[float, float, float]]:
    """Every distinct threshold with its (premium share, mean quality), share descending."""
    n = len(difficulty)
    order = sorted(range(n), key=lambda i: difficulty[i], reverse=True)
    quality = sum(weak)
    out = [(float("inf"), 0.0, quality / n)]
    k = 0
    while k < n:
        value = difficulty[order[k]]
        while k < n and difficulty[order[k]] == value:
            quality += strong[order[k]] - weak[order[k]]
            k += 1
        out.append((value, k / n, quality / n))
    return out


def calibrate(
    outcomes: Sequence[Outcome],
    difficulty: Sequence[float],
    *,
    strong: str,
    weak: str,
    goal: Goal,
    classifier: str = "default",
    prices: Mapping[str, tuple[float, float]] | None = None,
) -> Calibration:
    """Choose the premium threshold on ``difficulty`` (one score per outcome) for ``goal``.
    ``prices`` ($ per million input/output tokens per model) are written into the config."""
    if len(outcomes) != len(difficulty) or not outcomes:
        raise ValueError("need one difficulty per outcome, and at least one outcome")
    s = [o.scores[strong] for o in outcomes]
    w = [o.scores[weak] for o in outcomes]
    sq, wq = sum(s) / len(s), sum(w) / len(w)
    options = _options(difficulty, s, w)
    if goal.kind == "premium-share":
        ok = [o for o in options if o[1] <= goal.value + 1e-12]
        threshold, share, quality = max(ok, key=lambda o: (o[2], -o[1]))
    else:
        target = goal.value * sq
        ok = [o for o in options if o[2] >= target - 1e-12]
        threshold, share, quality = min(ok, key=lambda o: (o[1], -o[2])) if ok else options[-1]
    threshold = 1.0 if threshold == float("inf") else min(1.0, max(0.0, threshold))
    qualities = model_qualities(outcomes)
    premium_floor = round(qualities[strong], 3)
    models: list[dict[str, Any]] = []
    for name in (strong, weak):
        model: dict[str, Any] = {"name": name, "quality": round(qualities[name], 3)}
        if prices is not None and name in prices:
            model["price"] = {"input_per_mtok": prices[name][0], "output_per_mtok": prices[name][1]}
        models.append(model)
    config = {
        "models": models,
        "tiers": {"economy": 0.0, "premium": premium_floor},
        "policies": {
            "default": {
                "classifier": classifier,
                # full precision: rounding could move the boundary prompt to the other side
                "thresholds": {"economy": 0.0, "premium": threshold},
            }
        },
    }
    return Calibration(threshold, share, quality, sq, wq, config)
