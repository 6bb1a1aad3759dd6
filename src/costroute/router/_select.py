"""Choosing a model: a pure function from (difficulty, request needs, candidate pool) to a decision.

difficulty -> required tier (the policy's thresholds) -> eligible candidates (quality meets the
tier, the context window fits, the model supports what the request uses, it has a price) -> the
cheapest by estimated request cost. When no candidate is eligible at the required tier the next
tier up is tried (if the policy escalates); when none is eligible at any, ``NoAdequateModelError``
carries every candidate's reason.

It scales with the pool: models below the required tier's quality are dropped before anything
else is checked, the rest are ranked on float prices (exact ``Decimal`` only for the chosen
model's estimate), and the explanation of every candidate (``Decision.candidates``) is built only
when someone reads it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, overload

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
    #: ``sheet``'s input and output prices as integers (units of 10^-12 USD per million tokens), by
    #: prompt-length threshold, highest first: for ranking (derived from ``sheet``; not compared)
    rank_prices: tuple[tuple[int, int | float, int | float], ...] = field(
        default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.sheet is not None:
            sheet = self.sheet
            rows = [(-1, _scaled(sheet.input_per_mtok), _scaled(sheet.output_per_mtok))]
            rows += [(t.above_input_tokens, _scaled(t.input_per_mtok), _scaled(t.output_per_mtok)) for t in sheet.tiers]
            object.__setattr__(self, "rank_prices", tuple(sorted(rows, key=lambda row: row[0], reverse=True)))

    def rank_cost(self, input_tokens: int, output_tokens: int) -> int | float:
        """The estimated cost in units of 10^-18 USD, an exact integer for any price with at most
        12 decimal places: ranks as the exact ``Decimal`` estimate does, at a fraction of its cost
        (the booked estimate still comes from :func:`~costroute.pricing.estimate_cost`)."""
        for above, input_price, output_price in self.rank_prices:  # the highest threshold passed wins
            if input_tokens > above:
                return input_price * input_tokens + output_price * output_tokens
        return float("inf")


def _scaled(price: Decimal) -> int | float:
    value = price.scaleb(12)
    return int(value) if value == value.to_integral_value() else float(value)  # float: > 12 places, rare


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
    candidates: Sequence[RankedCandidate]
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
        if isinstance(self.candidates, _Ranking):
            return self.candidates.fallbacks()
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
    if not (needs.tools or needs.vision or needs.json_output or needs.stream):
        return None
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
    wanted = required_tier(difficulty, thresholds, tiers)
    ordered = sorted(tiers, key=lambda t: tiers[t])
    steps = ordered[ordered.index(wanted):] if escalate else [wanted]
    ranked = _usable(pool, needs, tiers[steps[0]])  # all the tiers' eligible models, cheapest first
    for tier in steps:
        floor = tiers[tier]
        eligible = ranked if tier == steps[0] else [c for c in ranked if c.quality >= floor]
        if eligible:
            chosen = eligible[0]
            return Decision(
                model=chosen.name, tier=tier, required_tier=wanted, difficulty=difficulty, policy=policy,
                candidates=_Ranking(pool, needs, tier, floor, eligible),
                input_tokens=needs.input_tokens, est_cost_usd=_exact(chosen, needs),
                escalated=tier != wanted, service_tier=chosen.service_tier,
            )
    floor = tiers[wanted]
    rejections = {
        c.name: reject_reason(c, needs) or f"quality {c.quality:.2f} < {floor:.2f} required by tier {wanted}"
        for c in pool
    }
    raise NoAdequateModelError(
        f"no model can serve this request at tier {wanted!r} or above", rejections=rejections
    )


def _usable(pool: Sequence[Candidate], needs: RequestNeeds, lowest: float) -> list[Candidate]:
    """The candidates of at least ``lowest`` quality that can serve the request (what
    :func:`reject_reason` passes, its common checks inlined), by rank: the cheapest (exactly, in
    integers) first, then the better, then by name. One pass over the pool, one sort."""
    inp, out = needs.input_tokens, needs.output_tokens
    cap = needs.max_output_tokens or needs.output_tokens
    caller, caller_cap = needs.cap_from_caller, needs.max_output_tokens
    plain = not (needs.tools or needs.vision or needs.json_output or needs.stream)
    rows: list[tuple[int | float, float, str, Candidate]] = []
    for c in pool:
        if c.quality < lowest or c.sheet is None:
            continue
        window, most = c.max_input_tokens, c.max_output_tokens
        if window is not None and inp + (cap if caller or most is None else min(cap, most)) > window:
            continue
        if most is not None and caller and caller_cap and caller_cap > most:
            continue
        if not plain and reject_reason(c, needs) is not None:
            continue
        for above, input_price, output_price in c.rank_prices:
            if inp > above:
                rows.append((input_price * inp + output_price * out, -c.quality, c.name, c))
                break
    rows.sort()  # names are unique: the candidates themselves are never compared
    return [row[3] for row in rows]


def _exact(c: Candidate, needs: RequestNeeds) -> Decimal | None:
    return None if c.sheet is None else estimate_cost(c.sheet, needs.input_tokens, needs.output_tokens)


class _Ranking(Sequence[RankedCandidate]):
    """``Decision.candidates``, built on first read: the chosen model, the other eligible ones in
    the order they are tried, then the rejected ones (by exact estimated cost) with their reasons."""

    __slots__ = ("_built", "_eligible", "_floor", "_lock", "_names", "_needs", "_pool", "_tier")

    def __init__(self, pool: Sequence[Candidate], needs: RequestNeeds, tier: str, floor: float,
                 eligible: list[Candidate]) -> None:
        self._pool, self._needs, self._tier, self._floor, self._eligible = pool, needs, tier, floor, eligible
        self._built: tuple[RankedCandidate, ...] | None = None
        self._names: list[str] | None = None
        self._lock = threading.Lock()

    def fallbacks(self) -> list[str]:
        names = self._names
        if names is None:
            names = self._names = [c.name for c in self._eligible]
        return names[1:]

    def _ranked(self) -> tuple[RankedCandidate, ...]:
        built = self._built
        if built is None:
            with self._lock:
                built = self._built = self._built or self._build()
        return built

    def _build(self) -> tuple[RankedCandidate, ...]:
        needs, floor = self._needs, self._floor
        chosen = [RankedCandidate(c.name, c.quality, _exact(c, needs)) for c in self._eligible]
        names = {c.name for c in self._eligible}
        rejected: list[RankedCandidate] = []
        for c in self._pool:
            if c.name in names:
                continue
            reason = reject_reason(c, needs) or f"quality {c.quality:.2f} < {floor:.2f} required by tier {self._tier}"
            rejected.append(RankedCandidate(c.name, c.quality, _exact(c, needs), reason))
        rejected.sort(key=lambda r: (r.est_cost_usd if r.est_cost_usd is not None else Decimal("Infinity"), r.model))
        return (*chosen, *rejected)

    @overload
    def __getitem__(self, index: int) -> RankedCandidate: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[RankedCandidate]: ...

    def __getitem__(self, index: int | slice) -> RankedCandidate | Sequence[RankedCandidate]:
        return self._ranked()[index]

    def __len__(self) -> int:
        return len(self._pool)

    def __iter__(self) -> Iterator[RankedCandidate]:
        return iter(self._ranked())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self._ranked() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._ranked())

    def __repr__(self) -> str:
        return repr(self._ranked())

    def __reduce__(self) -> Any:
        return tuple, (self._ranked(),)
