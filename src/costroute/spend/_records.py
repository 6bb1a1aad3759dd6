"""Spend records: one per billed attempt, linked to its logical request; and feedback labels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from .._frozen import FrozenDict

__all__ = [
    "FEEDBACK_SOURCES",
    "ROLES",
    "SERVICE_TIERS",
    "Feedback",
    "FeedbackSource",
    "Role",
    "ServiceTier",
    "SpendRecord",
    "Status",
    "Tags",
]

Status = Literal["ok", "error", "cancelled", "cache_hit", "estimated"]
ServiceTier = Literal["default", "flex", "batch", "priority"]
Role = Literal["answer", "cascade_step", "verifier", "judge", "shadow", "label"]
FeedbackSource = Literal["app", "judge"]

SERVICE_TIERS: tuple[ServiceTier, ...] = ("default", "flex", "batch", "priority")
ROLES: tuple[Role, ...] = ("answer", "cascade_step", "verifier", "judge", "shadow", "label")
FEEDBACK_SOURCES: tuple[FeedbackSource, ...] = ("app", "judge")


class Tags(FrozenDict):
    """A record's tags: a ``dict`` that cannot be changed, so a stored record stays as recorded
    and records can share one tags object."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class SpendRecord:
    """What one attempt cost. Money is ``Decimal`` US dollars; tokens are disjoint by kind.

    ``role`` says why the call was made: the user's ``answer``, a ``cascade_step`` (``step`` is
    its place in the cascade, 0 when not a cascade), a ``verifier`` (its ``verdict``), or a
    ``judge``/``shadow``/``label`` call made for learning, linked to the user's request by
    ``parent_request_id``. ``service_tier`` is the provider tier the call ran on (``batch``
    calls carry their ``batch_id``). ``prompt_text`` and ``answer_text`` are kept only when the
    ledger is configured to store prompts.
    """

    request_id: str
    attempt: int
    ts: datetime  # timezone-aware UTC
    model: str
    provider: str
    status: Status
    policy: str = "default"
    tier: str = ""
    difficulty: float | None = None
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    baseline_cost_usd: Decimal = Decimal(0)
    saved_usd: Decimal = Decimal(0)
    input_per_mtok: Decimal | None = None
    output_per_mtok: Decimal | None = None
    price_source: str = ""
    latency_ms: float = 0.0
    tags: Mapping[str, str] = field(default_factory=dict)
    prompt_hash: str = ""
    prompt_text: str | None = None  # stored only when the ledger is configured to keep prompts
    error: str = ""
    estimated: bool = False  # tokens were estimated (e.g. a stream cut off before its usage)
    service_tier: ServiceTier = "default"
    batch_id: str = ""
    role: Role = "answer"
    step: int = 0
    verdict: str = ""
    parent_request_id: str = ""
    answer_text: str | None = None  # like prompt_text: stored only with store_prompts


@dataclass(frozen=True, slots=True)
class Feedback:
    """One quality label (0..1) of a request's answer. ``source`` is ``app`` (the application's
    own verdict) or ``judge`` (an automatic judge); an ``app`` score always overrides a
    ``judge`` score. ``model`` is the model the score is about: the one that answered the
    request (given when recorded, else read from the request's answer record; ``""`` if
    neither is known)."""

    request_id: str
    score: float
    source: FeedbackSource
    model: str
    ts: datetime
