"""Sheets from price records (the configuration's ``price:``, price files), and restated prices.

A record is a default price with optional ``batch``, ``flex`` and ``priority`` sub-records, each
a full price of that service tier. Pure functions over plain data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

from ._sheet import PriceSheet, PriceTier, ServiceTier

__all__ = ["Prices", "TierPrices", "price_sheet", "restate"]

_OTHER_TIERS: tuple[ServiceTier, ...] = ("flex", "batch", "priority")


class TierPrices(Protocol):
    """The prices of one service tier, in US dollars per million tokens."""

    @property
    def input_per_mtok(self) -> Decimal: ...

    @property
    def output_per_mtok(self) -> Decimal: ...

    @property
    def cached_input_per_mtok(self) -> Decimal | None: ...

    @property
    def cache_write_per_mtok(self) -> Decimal | None: ...

    @property
    def cache_write_1h_per_mtok(self) -> Decimal | None: ...


class Prices(TierPrices, Protocol):
    """Default prices, and the other service tiers' where the model has them."""

    @property
    def flex(self) -> TierPrices | None: ...

    @property
    def batch(self) -> TierPrices | None: ...

    @property
    def priority(self) -> TierPrices | None: ...


def price_sheet(
    model: str,
    prices: Prices,
    *,
    source: str = "",
    effective_date: str | None = None,
    long_context: Mapping[ServiceTier, tuple[PriceTier, ...]] | None = None,
) -> PriceSheet:
    """The default sheet of ``prices``, carrying a sheet for each service tier ``prices`` gives.
    ``long_context`` holds each tier's long-context prices, where known."""
    tiers = long_context or {}

    def one(p: TierPrices, service_tier: ServiceTier) -> PriceSheet:
        return PriceSheet(
            model=model,
            input_per_mtok=p.input_per_mtok,
            output_per_mtok=p.output_per_mtok,
            cached_input_per_mtok=p.cached_input_per_mtok,
            cache_write_per_mtok=p.cache_write_per_mtok,
            cache_write_1h_per_mtok=p.cache_write_1h_per_mtok,
            tiers=tiers.get(service_tier, ()),
            effective_date=effective_date,
            source=source,
            service_tier=service_tier,
        )

    others = tuple(
        one(sub, name) for name in _OTHER_TIERS if (sub := getattr(prices, name)) is not None
    )
    return dataclasses.replace(one(prices, "default"), service_tiers=others)


def restate(override: PriceSheet, known: PriceSheet | None) -> PriceSheet:
    """``override`` completed from the ``known`` list price it restates.

    A sheet whose input and output prices equal the known ones restates the list price: it keeps
    what it leaves out (cache prices, long-context tiers, and the service tiers it does not give;
    a service tier it gives is completed the same way from the known one). A different price, a
    negotiated one, is taken as given: its cache prices default to its input price, it has no
    long-context tiers and only the service tiers it names.
    """
    if known is None or (override.input_per_mtok, override.output_per_mtok) != (
        known.input_per_mtok,
        known.output_per_mtok,
    ):
        return override
    given = {s.service_tier: s for s in override.service_tiers}
    tiers = []
    for sheet in known.service_tiers:
        own = given.pop(sheet.service_tier, None)
        tiers.append(sheet if own is None else restate(own, sheet))
    tiers.extend(given.values())
    return dataclasses.replace(
        override,
        tiers=override.tiers or known.tiers,
        cached_input_per_mtok=_first(override.cached_input_per_mtok, known.cached_input_per_mtok),
        cache_write_per_mtok=_first(override.cache_write_per_mtok, known.cache_write_per_mtok),
        cache_write_1h_per_mtok=_first(override.cache_write_1h_per_mtok, known.cache_write_1h_per_mtok),
        service_tiers=tuple(dataclasses.replace(s, model=override.model) for s in tiers),
    )


def _first(own: Decimal | None, known: Decimal | None) -> Decimal | None:
    return known if own is None else own
