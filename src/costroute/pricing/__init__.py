"""costroute.pricing: what models cost, where prices come from, and pricing a usage.

    registry = PriceRegistry.default(files=["prices.yaml"])
    usage = usage_from_openai(response.usage, "openai")
    dollars = registry.cost("gpt-4o", usage)     # exact Decimal

Prices are US dollars per million tokens, as :class:`~decimal.Decimal`. Sources are consulted in
priority order: configuration overrides, price files, ``costroute.pricing`` plug-ins, and the
snapshot bundled with costroute (built from litellm's price map, read without importing litellm).
"""

from ._cost import cost_of, estimate_cost, usage_from_openai
from ._registry import PriceRegistry
from ._sheet import ModelInfo, PriceSheet, PriceTier, Usage
from ._sources import (
    PriceFileSource,
    PricingSource,
    SnapshotSource,
    StaticSource,
    entry_point_sources,
)

__all__ = [
    "ModelInfo",
    "PriceFileSource",
    "PriceRegistry",
    "PriceSheet",
    "PriceTier",
    "PricingSource",
    "SnapshotSource",
    "StaticSource",
    "Usage",
    "cost_of",
    "entry_point_sources",
    "estimate_cost",
    "usage_from_openai",
]
