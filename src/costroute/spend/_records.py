"""Spend records: one per billed attempt, linked to its logical request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from .._frozen import FrozenDict

__all__ = ["SpendRecord", "Status", "Tags"]

Status = Literal["ok", "error", "cancelled", "cache_hit", "estimated"]


class Tags(FrozenDict):
    """A record's tags: a ``dict`` that cannot be changed, so a stored record stays as recorded
    and records can share one tags object."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class SpendRecord:
    """What one attempt cost. Money is ``Decimal`` US dollars; tokens are disjoint by kind."""

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
