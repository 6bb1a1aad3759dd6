"""Price sheets and usage: the plain data every cost computation is made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["ModelInfo", "PriceSheet", "PriceTier", "Usage"]

MTOK = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Prices that apply instead of the base ones once the prompt exceeds ``above_input_tokens``."""

    above_input_tokens: int
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceSheet:
    """What one model costs, in US dollars per million tokens.

    Reasoning tokens are billed as output. ``cached_input_per_mtok`` and ``cache_write_per_mtok``
    fall back to the input price when a provider does not price them separately.
    """

    model: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    tiers: tuple[PriceTier, ...] = ()
    effective_date: str | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a model can do, as far as routing needs to know. ``None`` means unknown."""

    model: str
    provider: str = ""
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    supports_tools: bool | None = None
    supports_vision: bool | None = None
    supports_json: bool | None = None
    supports_streaming: bool | None = True


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one call, by kind. The kinds are disjoint: ``input_tokens`` excludes cache reads
    and writes, and ``reasoning_tokens`` is counted apart from ``output_tokens``."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def prompt_tokens(self) -> int:
        """Every token the prompt was made of, cached or not."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def billed_output_tokens(self) -> int:
        return self.output_tokens + self.reasoning_tokens
