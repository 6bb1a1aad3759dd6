"""Which live requests are also sent to the reference model: a pure, deterministic sampler.

``shadow: {rate: 0.02, reference: openai/gpt-4o, max_usd_per_day: 5}`` in a policy asks for 2 %
of its requests to be answered a second time, in the background, by the reference model, so a
judge can label the routed answer (see :mod:`costroute.learning._judge`). The sampler decides
from the request id alone (a keyed hash, so the same id is always in or always out, in every
process) and from the day's shadow spend, which the caller reads from its ledger: nothing here
keeps state, reads a clock or does I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["ShadowDecision", "ShadowSampler"]

_SCALE = float(1 << 64)


@dataclass(frozen=True, slots=True)
class ShadowDecision:
    """Whether to shadow one request, and why (``"sampled"``, ``"not sampled"``,
    ``"daily budget reached"``)."""

    sample: bool
    reason: str


@dataclass(frozen=True, slots=True)
class ShadowSampler:
    """Shadows a ``rate`` share of requests, chosen by a keyed hash of the request id, while the
    day's shadow spend plus the request's estimated reference cost stays within
    ``max_usd_per_day`` (``None``: no daily cap). ``key`` changes which requests are chosen
    (two policies with different keys sample different requests)."""

    rate: float
    max_usd_per_day: Decimal | None = None
    key: str = "costroute-shadow"

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"shadow rate must be in [0, 1], got {self.rate!r}")
        if self.max_usd_per_day is not None and self.max_usd_per_day < 0:
            raise ValueError(f"max_usd_per_day must be >= 0, got {self.max_usd_per_day!r}")

    def draw(self, request_id: str) -> float:
        """The request's uniform draw in [0, 1): the same for the same id and key, everywhere."""
        digest = hashlib.blake2b(request_id.encode("utf-8"), digest_size=8, key=self.key.encode("utf-8")[:64])
        return int.from_bytes(digest.digest(), "big") / _SCALE

    def sampled(self, request_id: str) -> bool:
        """Whether the request is in the sample (ignoring the budget)."""
        return self.draw(request_id) < self.rate

    def decide(
        self, request_id: str, *, spent_today_usd: Decimal = Decimal(0), est_cost_usd: Decimal = Decimal(0)
    ) -> ShadowDecision:
        """Shadow this request? ``spent_today_usd`` is what shadow calls (and their judging) cost
        so far today, ``est_cost_usd`` the estimated cost of this one's reference call and judge."""
        if not self.sampled(request_id):
            return ShadowDecision(False, "not sampled")
        if self.max_usd_per_day is not None and spent_today_usd + est_cost_usd > self.max_usd_per_day:
            return ShadowDecision(False, "daily budget reached")
        return ShadowDecision(True, "sampled")
