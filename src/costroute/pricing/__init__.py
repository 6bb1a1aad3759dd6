"""costroute.pricing: what models cost, where prices come from, and pricing a usage.

    registry = PriceRegistry.default(files=["prices.yaml"])
    usage = usage_from_openai(response.usage, "openai")
    dollars = registry.cost("gpt-4o", usage)     # exact Decimal
    batch = registry.find("gpt-4o", service_tier="batch")   # None where there is no batch price

Prices are US dollars per million tokens, as :class:`~decimal.Decimal`, per service tier
(:data:`SERVICE_TIERS`). Sources are consulted in priority order: configuration overrides, price
files, ``costroute.pricing`` plug-ins, and the snapshot bundled with costroute (built from
litellm's price map, read without importing litellm).
"""

from ._assemble import Prices, TierPrices, price_sheet, restate
from ._cost import cost_of, estimate_cost, usage_from_openai
from ._registry import PriceRegistry
from ._sheet import SERVICE_TIERS, ModelInfo, PriceSheet, PriceTier, ServiceTier, Usage
from ._sources import (
    PriceFileSource,
    PricingSource,
    SnapshotSource,
    StaticSource,
    entry_point_sources,
)

__all__ = [
    "SERVICE_TIERS",
    "ModelInfo",
    "PriceFileSource",
    "PriceRegistry",
    "PriceSheet",
    "PriceTier",
    "Prices",
    "PricingSource",
    "ServiceTier",
    "SnapshotSource",
    "StaticSource",
    "TierPrices",
    "Usage",
    "cost_of",
    "entry_point_sources",
    "estimate_cost",
    "price_sheet",
    "restate",
    "usage_from_openai",
]
