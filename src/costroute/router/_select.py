"""Choosing a model: a pure function from (difficulty, request needs, candidate pool) to a decision.

difficulty -> required tier (the policy's thresholds) -> eligible candidates (quality meets the
tier, the context window fits, the model supports what the request uses, it has a price) -> the
cheapest by estimated request cost. When no candidate is eligible at the required tier the next
tier up is tried (if the policy escalates); when none is eligible at any, ``NoAdequateModelError``
carries every candidate's reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from .._errors import NoAdequateModelError
from ..pricing._cost import estimate_cost
from ..pricing._sheet import PriceSheet

if TYPE_CHECKING:
    from ._sessions import SessionChoice

__all__ = [
    "Candidate",
    "Decision",
    "RankedCandidate",
    "RequestNeeds",
    "default_thresholds",
    "reject_reason",
    "required_tier",
    "select",
]

@dataclass(frozen=True, slots=True)
class Candidate:
    """A model of the pool, resolved against the pricing registry and the quality table."""

    name: str
    quality: float
    provider: str = ""
    sheet: PriceSheet | None = None
    unpriced_reason: str = ""
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    supports_tools: bool | None = None
    supports_vision: bool | None = None
    supports_json: bool | None = None
    supports_streaming: bool | None = None
    service_tier: str = "default"  # the service tier ``sheet`` prices (``flex``, ``batch``, ...)


@dataclass(frozen=True, slots=True)
class RequestNeeds:
    """What a request demands of a model, computed once before routing."""

    input_tokens: int
    output_tokens: int  # the estimate used to price the answer before it exists
    max_output_tokens: int | None = None  # the cap the answer is allowed to reach
    tools: bool = False
    vision: bool = False
    json_output: bool = False
    stream: bool = False
    cap_from_caller: bool = True  # False: a policy default, lowered to each model's own limit


@dataclass(frozen=True, slots=True)
class RankedCandidate:
    """One candidate as the router saw it: its estimated cost, and why it was passed over."""

    model: str
    quality: float
    est_cost_usd: Decimal | None
    rejected: str | None = None

    @property
    def eligible(self) -> bool:
        return self.rejected is None


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of routing one request. ``candidates`` lists the chosen model first, then the
    other eligible ones by cost (the fallback order), then the rejected ones with their reasons."""

    model: str
    tier: str
    required_tier: str
    difficulty: float
    policy: str
    candidates: tuple[RankedCandidate, ...]
    input_tokens: int
    est_cost_usd: Decimal | None
    escalated: bool = False
    pinned: bool = False
    signals: Mapping[str, float] = field(default_factory=dict)
    label: str = ""
    service_tier: str = "default"  # the tier the chosen model is priced and asked at
    session: SessionChoice | None = None  # how the request's session kept or moved the choice

    @property
    def fallbacks(self) -> list[str]:
        """Eligible models to try, in order, after the chosen one fails."""
        return [c.model for c in self.candidates if c.eligible and c.model != self.model]


def default_thresholds(tiers: Mapping[str, float]) -> dict[str, float]:
    """Spread tiers evenly over difficulty: the lowest from 0, three tiers at 0 / 0.35 / 0.65."""
    ordered = sorted(tiers, key=lambda t: tiers[t])
    if len(ordered) == 3:
        return dict(zip(ordered, (0.0, 0.35, 0.65), strict=True))
    return {t: round(i / len(ordered), 4) for i, t in enumerate(ordered)}


def required_tier(difficulty: float, thresholds: Mapping[str, float], tiers: Mapping[str, float]) -> str:
    """The most demanding tier whose threshold the difficulty reaches (the lowest tier otherwise)."""
    ordered = sorted(tiers, key=lambda t: (tiers[t], thresholds.get(t, 0.0)))
    chosen = ordered[0]
    for tier in ordered:
        if tier in thresholds and difficulty >= thresholds[tier]:
            chosen = tier
    return chosen


def reject_reason(c: Candidate, needs: RequestNeeds) -> str | None:
    """Why a candidate cannot serve the request at all, whatever the tier."""
    if c.sheet is None:
        return c.unpriced_reason or "no price known"
    answer = needs.max_output_tokens or needs.output_tokens
    if not needs.cap_from_caller and c.max_output_tokens is not None:
        answer = min(answer, c.max_output_tokens)  # the policy's cap, as this model gets it
    if c.max_input_tokens is not None and needs.input_tokens + answer > c.max_input_tokens:
        return f"context window {c.max_input_tokens} < {needs.input_tokens + answer} tokens needed"
    if (c.max_output_tokens is not None and needs.cap_from_caller and needs.max_output_tokens
            and needs.max_output_tokens > c.max_output_tokens):
        return f"max output {c.max_output_tokens} < max_tokens {needs.max_output_tokens}"
    for wanted, supported, what in (
        (needs.tools, c.supports_tools, "tools"),
        (needs.vision, c.supports_vision, "images"),
        (needs.json_output, c.supports_json, "JSON output"),
        (needs.stream, c.supports_streaming, "streaming"),
    ):
        if wanted and supported is False:
            return f"does not support {what}"
    return None


def select(
    *,
    difficulty: float,
    needs: RequestNeeds,
    pool: Sequence[Candidate],
    tiers: Mapping[str, float],
    thresholds: Mapping[str, float],
    policy: str = "default",
    escalate: bool = True,
) -> Decision:
    """Route one request. Pure: no I/O, no clock, the same inputs give the same decision."""
    base = {c.name: reject_reason(c, needs) for c in pool}
    costs = {
        c.name: estimate_cost(c.sheet, needs.input_tokens, needs.output_tokens)
        for c in pool if c.sheet is not None
    }
    wanted = required_tier(difficulty, thresholds, tiers)
    ordered = sorted(tiers, key=lambda t: tiers[t])
    start = ordered.index(wanted)
    for tier in ordered[start:] if escalate else [wanted]:
        floor = tiers[tier]
        eligible = [c for c in pool if base[c.name] is None and c.quality >= floor]
        if eligible:
            eligible.sort(key=lambda c: (costs[c.name], -c.quality, c.name))
            return _decision(eligible[0], tier, wanted, difficulty, policy, pool, base, costs, floor, needs)
    floor = tiers[wanted]
    rejections = {
        c.name: base[c.name] or f"quality {c.quality:.2f} < {floor:.2f} required by tier {wanted}"
        for c in pool
    }
    raise NoAdequateModelError(
        f"no model can serve this request at tier {wanted!r} or above", rejections=rejections
    )


def _decision(
    chosen: Candidate, tier: str, wanted: str, difficulty: float, policy: str,
    pool: Sequence[Candidate], base: Mapping[str, str | None], costs: Mapping[str, Decimal],
    floor: float, needs: RequestNeeds,
) -> Decision:
    ranked: list[RankedCandidate] = []
    for c in pool:
        reason = base[c.name]
        if reason is None and c.quality < floor:
            reason = f"quality {c.quality:.2f} < {floor:.2f} required by tier {tier}"
        ranked.append(RankedCandidate(c.name, c.quality, costs.get(c.name), reason))
    ranked.sort(key=lambda r: (
        r.model != chosen.name, not r.eligible,
        r.est_cost_usd if r.est_cost_usd is not None else Decimal("Infinity"), r.model,
    ))
    return Decision(
        model=chosen.name, tier=tier, required_tier=wanted, difficulty=difficulty, policy=policy,
        candidates=tuple(ranked), input_tokens=needs.input_tokens, est_cost_usd=costs[chosen.name],
        escalated=tier != wanted, service_tier=chosen.service_tier,
    )
