"""Price sheets and usage: the plain data every cost computation is made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, get_args

__all__ = ["SERVICE_TIERS", "ModelInfo", "PriceSheet", "PriceTier", "ServiceTier", "Usage"]

MTOK = Decimal(1_000_000)

#: How a provider serves a request, each with its own prices: ``default`` (standard, synchronous),
#: ``flex`` (synchronous, slower, may be refused under load), ``batch`` (asynchronous batch APIs)
#: and ``priority`` (synchronous, faster, dearer).
ServiceTier = Literal["default", "flex", "batch", "priority"]
SERVICE_TIERS: tuple[ServiceTier, ...] = get_args(ServiceTier)


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Prices that apply instead of the base ones once the prompt exceeds ``above_input_tokens``."""

    above_input_tokens: int
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    cache_write_1h_per_mtok: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceSheet:
    """What one model costs at one service tier, in US dollars per million tokens.

    Reasoning tokens are billed as output. ``cached_input_per_mtok`` and ``cache_write_per_mtok``
    fall back to the input price when a provider does not price them separately;
    ``cache_write_1h_per_mtok`` (1-hour cache writes) falls back to ``cache_write_per_mtok``.

    ``service_tier`` names the tier these prices are for. A ``default`` sheet carries the sheets of
    the model's other service tiers in ``service_tiers`` (see :meth:`for_service_tier`); a model
    whose provider does not offer a tier has no sheet for it.
    """

    model: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    cache_write_1h_per_mtok: Decimal | None = None
    tiers: tuple[PriceTier, ...] = ()
    effective_date: str | None = None
    source: str = ""
    service_tier: ServiceTier = "default"
    service_tiers: tuple[PriceSheet, ...] = ()

    def for_service_tier(self, service_tier: str) -> PriceSheet | None:
        """The sheet of ``service_tier`` (this one for its own tier), or ``None`` if the model has
        no price at that tier. Raises :class:`ValueError` for a name not in :data:`SERVICE_TIERS`."""
        if service_tier not in SERVICE_TIERS:
            raise ValueError(f"unknown service tier {service_tier!r}; expected one of {', '.join(SERVICE_TIERS)}")
        if service_tier == self.service_tier:
            return self
        return next((s for s in self.service_tiers if s.service_tier == service_tier), None)

    @property
    def service_tier_names(self) -> frozenset[str]:
        """This sheet's tier and the tiers of the sheets it carries."""
        return frozenset({self.service_tier, *(s.service_tier for s in self.service_tiers)})


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a model can do, as far as routing needs to know. ``None`` means unknown.

    ``mode`` is litellm's kind of model (``chat``, ``embedding``, ``responses``, ...).
    """

    model: str
    provider: str = ""
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    supports_tools: bool | None = None
    supports_vision: bool | None = None
    supports_json: bool | None = None
    supports_streaming: bool | None = True
    mode: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one call, by kind. The kinds are disjoint: ``input_tokens`` excludes cache reads
    and writes, ``cache_write_tokens`` counts the writes of the default (5-minute) lifetime and
    ``cache_write_1h_tokens`` the 1-hour ones, and ``reasoning_tokens`` is counted apart from
    ``output_tokens``."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    extra: dict[str, int] = field(default_factory=dict)
    cache_write_1h_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        """Every token the prompt was made of, cached or not."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens + self.cache_write_1h_tokens

    @property
    def billed_output_tokens(self) -> int:
        return self.output_tokens + self.reasoning_tokens
