"""The price registry: a priority chain of :class:`PricingSource` with alias normalisation.

Model names are matched case-insensitively, with or without a provider prefix: ``gpt-4o``,
``GPT-4o`` and ``openai/gpt-4o`` are one model, whose canonical name is ``openai/gpt-4o``. A
source keyed ``gpt-4o`` answers for ``openai/gpt-4o`` and a source keyed only ``openai/gpt-4o``
answers for ``gpt-4o``. The first source (highest priority) that knows a model prices it.

Lookups sit on the per-request path, so every answer is remembered per registry instance; sources
are treated as immutable once handed to a registry.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TypeVar

from .._errors import UnknownModelPriceError
from ._cost import cost_of
from ._sheet import SERVICE_TIERS, ModelInfo, PriceSheet, Usage
from ._sources import (
    PriceFileSource,
    PricingSource,
    SnapshotSource,
    StaticSource,
    entry_point_sources,
)

__all__ = ["PriceRegistry"]

# litellm provider names whose model-name prefix differs from the provider name.
_PREFIX_OF_PROVIDER = {
    "bedrock_converse": "bedrock",
    "cohere_chat": "cohere",
    "amazon_nova": "amazon-nova",
}
# Bound the memo tables: model names come from configuration, but callers may pass anything.
_MEMO_LIMIT = 4096

_K = TypeVar("_K")
_V = TypeVar("_V")


def provider_prefix(provider: str) -> str:
    """The model-name prefix litellm routes ``provider`` by (``vertex_ai-language-models`` ->
    ``vertex_ai``)."""
    provider = provider.strip().lower()
    return _PREFIX_OF_PROVIDER.get(provider) or provider.split("-", 1)[0]


def _split(name: str) -> tuple[str, str]:
    prefix, sep, rest = name.partition("/")
    return (prefix, rest) if sep and prefix and rest else ("", name)


class _Index:
    """One source's names, lowercased: its keys, and each prefixed key's unprefixed name when
    that is unambiguous within the source."""

    def __init__(self, source: PricingSource) -> None:
        keys = list(dict.fromkeys(source.models()))
        self.exact = {k.lower(): k for k in keys}
        bare: dict[str, list[str]] = {}
        for key in keys:
            prefix, rest = _split(key)
            if prefix:
                bare.setdefault(rest.lower(), []).append(key)
        self.unprefixed = {
            n: ks[0] for n, ks in bare.items() if len(ks) == 1 and n not in self.exact
        }


class PriceRegistry:
    """Prices and capabilities of models, from ``sources`` in priority order (first wins)."""

    def __init__(self, sources: Sequence[PricingSource]) -> None:
        self._sources = tuple(sources)
        self._indexes: list[_Index] | None = None
        self._canonical: dict[str, str] = {}
        self._sheets: dict[str, PriceSheet | None] = {}
        self._tier_sheets: dict[tuple[str, str], PriceSheet | None] = {}
        self._infos: dict[str, ModelInfo | None] = {}
        self._providers: dict[str, str] = {}

    @classmethod
    def default(
        cls,
        *,
        overrides: Mapping[str, PriceSheet] | Iterable[PriceSheet] = (),
        infos: Mapping[str, ModelInfo] | Iterable[ModelInfo] = (),
        files: Sequence[str | os.PathLike[str]] = (),
        plugins: bool = True,
        snapshot: PricingSource | None = None,
    ) -> PriceRegistry:
        """The standard chain: configuration overrides, then price ``files`` (earlier first), then
        ``costroute.pricing`` plug-ins, then the bundled snapshot (or ``snapshot``)."""
        sources: list[PricingSource] = []
        if overrides or infos:
            sources.append(StaticSource(overrides, infos, name="config"))
        sources.extend(PriceFileSource(path) for path in files)
        if plugins:
            sources.extend(entry_point_sources())
        sources.append(SnapshotSource() if snapshot is None else snapshot)
        return cls(sources)

    @property
    def sources(self) -> tuple[PricingSource, ...]:
        return self._sources

    def _index(self) -> list[_Index]:
        if self._indexes is None:
            self._indexes = [_Index(source) for source in self._sources]
        return self._indexes

    def _provider_of(self, key: str) -> str:
        """The provider of a source key, from the first source whose info names one."""
        provider = self._providers.get(key)
        if provider is None:
            provider = ""
            for source, index in zip(self._sources, self._index(), strict=True):
                found = index.exact.get(key.lower())
                info = None if found is None else source.info(found)
                if info is not None and info.provider:
                    provider = info.provider
                    break
            _remember(self._providers, key, provider)
        return provider

    def _match(self, index: _Index, name: str) -> str | None:
        """``index``'s key for the lowercased ``name``: exactly; else, for ``p/x``, a key ``x``
        whose provider is ``p`` or unknown; else, for a bare ``x``, the one key ``p/x``."""
        key = index.exact.get(name)
        if key is not None:
            return key
        prefix, rest = _split(name)
        if not prefix:
            return index.unprefixed.get(name)
        key = index.exact.get(rest)
        if key is None:
            return None
        provider = self._provider_of(key).lower()
        return key if not provider or prefix in (provider, provider_prefix(provider)) else None

    def _locate(self, name: str, *, priced: bool = False) -> tuple[PricingSource, str] | None:
        """The highest-priority source that knows ``name`` (and prices it, if ``priced``)."""
        lowered = name.strip().lower()
        for source, index in zip(self._sources, self._index(), strict=True):
            key = self._match(index, lowered)
            if key is not None and (not priced or source.sheet(key) is not None):
                return source, key
        return None

    def canonical(self, model: str) -> str:
        """The one name of ``model``: ``provider/name`` as spelled by the source that knows it.

        An unknown model keeps its spelling (stripped, with a lowercased provider prefix).
        """
        result = self._canonical.get(model)
        if result is None:
            result = self._compute_canonical(model)
            _remember(self._canonical, model, result)
        return result

    def _compute_canonical(self, model: str) -> str:
        name = model.strip()
        prefix, rest = _split(name)
        located = self._locate(name)
        if located is None:
            return f"{prefix.lower()}/{rest}" if prefix else name
        key = located[1]
        if _split(key)[0]:
            return key
        if prefix:
            return f"{prefix.lower()}/{key}"
        provider = self._provider_of(key)
        return f"{provider_prefix(provider)}/{key}" if provider else key

    def find(self, model: str, service_tier: str = "default") -> PriceSheet | None:
        """The prices of ``model`` at ``service_tier`` from the first source that prices it, or
        ``None`` (unknown model, or a tier its provider does not offer for it). The sheet's ``model``
        is the canonical name. Raises :class:`ValueError` for a tier not in :data:`SERVICE_TIERS`."""
        if service_tier != "default":
            return self._find_tier(model, service_tier)
        try:
            return self._sheets[model]
        except KeyError:
            pass
        canonical = self.canonical(model)
        located = self._locate(canonical, priced=True) or self._locate(model, priced=True)
        sheet = None if located is None else located[0].sheet(located[1])
        if sheet is not None and sheet.model != canonical:
            sheet = _renamed(sheet, canonical)
        _remember(self._sheets, model, sheet)
        return sheet

    def _find_tier(self, model: str, service_tier: str) -> PriceSheet | None:
        key = (model, service_tier)
        try:
            return self._tier_sheets[key]
        except KeyError:
            pass
        if service_tier not in SERVICE_TIERS:
            raise ValueError(f"unknown service tier {service_tier!r}; expected one of {', '.join(SERVICE_TIERS)}")
        base = self.find(model)
        sheet = None if base is None else base.for_service_tier(service_tier)
        _remember(self._tier_sheets, key, sheet)
        return sheet

    def service_tiers(self, model: str) -> frozenset[str]:
        """The service tiers ``model`` is priced at (``default`` first of all); empty if unpriced."""
        sheet = self.find(model)
        return frozenset() if sheet is None else sheet.service_tier_names

    def sheet(self, model: str) -> PriceSheet:
        """The prices of ``model``; raises :class:`UnknownModelPriceError` with close matches."""
        sheet = self.find(model)
        if sheet is None:
            raise UnknownModelPriceError(model, suggestions=self.suggestions(model))
        return sheet

    def suggestions(self, model: str, n: int = 3) -> list[str]:
        """Known model names close to ``model``."""
        name = model.strip().lower()
        known = {k: k for index in self._index() for k in index.exact}
        close = difflib.get_close_matches(name, known, n=n, cutoff=0.6)
        if not close:
            close = difflib.get_close_matches(_split(name)[1], known, n=n, cutoff=0.6)
        return [self.canonical(c) for c in close]

    def info(self, model: str) -> ModelInfo | None:
        """What ``model`` can do: the first source's answer, its unknown (``None``) fields filled
        in from lower-priority sources."""
        try:
            return self._infos[model]
        except KeyError:
            pass
        canonical = self.canonical(model)
        merged: ModelInfo | None = None
        lowered = canonical.lower()
        for source, index in zip(self._sources, self._index(), strict=True):
            key = self._match(index, lowered)
            found = None if key is None else source.info(key)
            if found is not None:
                merged = found if merged is None else _merge(merged, found)
        if merged is not None:
            merged = dataclasses.replace(merged, model=canonical)
        _remember(self._infos, model, merged)
        return merged

    def models(self) -> list[str]:
        """Every known model, by canonical name, sorted."""
        return sorted(
            {self.canonical(key) for index in self._index() for key in index.exact.values()}
        )

    def cost(self, model: str, usage: Usage) -> Decimal:
        """The exact cost of ``usage`` on ``model``; raises :class:`UnknownModelPriceError`."""
        return cost_of(self.sheet(model), usage)

    def __repr__(self) -> str:
        return f"PriceRegistry({[getattr(s, 'name', type(s).__name__) for s in self._sources]!r})"


def _renamed(sheet: PriceSheet, model: str) -> PriceSheet:
    return dataclasses.replace(
        sheet, model=model, service_tiers=tuple(dataclasses.replace(s, model=model) for s in sheet.service_tiers)
    )


def _merge(first: ModelInfo, fallback: ModelInfo) -> ModelInfo:
    changes = {
        f.name: getattr(fallback, f.name)
        for f in dataclasses.fields(first)
        if getattr(first, f.name) in (None, "") and getattr(fallback, f.name) not in (None, "")
    }
    return dataclasses.replace(first, **changes) if changes else first


def _remember(table: dict[_K, _V], key: _K, value: _V) -> None:
    if len(table) >= _MEMO_LIMIT:
        table.clear()
    table[key] = value
