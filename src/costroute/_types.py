"""What a call tells its caller about how it was routed and what it cost."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .pricing._sheet import Usage
from .router._select import Decision

__all__ = ["RouteInfo"]


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """Attached to every response as ``resp.costroute`` (and to a stream once it has ended).

    ``saved_usd`` is what routing saved against the policy's baseline model, or for a cache hit
    what the model routing would have called would have cost.
    """

    request_id: str
    policy: str
    difficulty: float
    label: str
    tier: str
    model: str
    cost_usd: Decimal
    baseline_cost_usd: Decimal
    cache_hit: bool
    attempts: int
    pinned: bool
    latency_ms: float
    usage: Usage
    saved_usd: Decimal = Decimal(0)
    estimated: bool = False
    decision: Decision | None = None
    service_tier: str = "default"  # the tier the answer was priced at (``flex``, ``batch``, ...)
    #: Under ``strategy: cascade``: what was tried, each verifier's verdict, and why the answer was
    #: accepted (``CascadeOutcome.explain()``); ``cost_usd`` is then every call's together.
    cascade: Mapping[str, Any] | None = None
