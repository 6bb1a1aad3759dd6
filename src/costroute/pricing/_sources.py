"""Where prices come from: the :class:`PricingSource` protocol and its implementations.

* :class:`StaticSource`: sheets held in memory (the configuration's ``price:`` overrides, tests).
* :class:`PriceFileSource`: a user's JSON or YAML price file, validated when it is opened.
* :class:`SnapshotSource`: the snapshot bundled with costroute, built from litellm's price map by
  ``scripts/build_price_snapshot.py`` and read without importing litellm.
* :func:`entry_point_sources`: plug-ins registered in the ``costroute.pricing`` entry-point group.

Sources match model names exactly or case-insensitively; provider prefixes and aliases are the
registry's business.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib.metadata
import json
import logging
import os
from collections.abc import Iterable, Mapping
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._errors import ConfigError
from .._files import key_path, read_structured
from ._assemble import price_sheet
from ._sheet import SERVICE_TIERS, ModelInfo, PriceSheet, PriceTier, ServiceTier

__all__ = [
    "PriceFileSource",
    "PricingSource",
    "SnapshotSource",
    "StaticSource",
    "entry_point_sources",
]

logger = logging.getLogger("costroute.pricing")

ENTRY_POINT_GROUP = "costroute.pricing"
SNAPSHOT_FILE = "snapshot.json.gz"


@runtime_checkable
class PricingSource(Protocol):
    """Something that knows what models cost and can do. Lookups should be cheap."""

    name: str

    def sheet(self, model: str) -> PriceSheet | None:
        """The prices of ``model``, or ``None`` if this source does not know it."""
        ...

    def info(self, model: str) -> ModelInfo | None:
        """What ``model`` can do, or ``None`` if this source does not know it."""
        ...

    def models(self) -> Iterable[str]:
        """Every model name this source knows, spelled as it keys them."""
        ...


class _Keyed:
    """Exact-then-case-insensitive lookup over two dicts keyed by model name."""

    name: str

    def __init__(self, sheets: Mapping[str, PriceSheet], infos: Mapping[str, ModelInfo]) -> None:
        self._sheets = dict(sheets)
        self._infos = dict(infos)
        self._lower = {k.lower(): k for k in (*self._infos, *self._sheets)}

    def _key(self, model: str) -> str:
        return (
            model
            if model in self._sheets or model in self._infos
            else self._lower.get(model.lower(), model)
        )

    def sheet(self, model: str) -> PriceSheet | None:
        return self._sheets.get(self._key(model))

    def info(self, model: str) -> ModelInfo | None:
        return self._infos.get(self._key(model))

    def models(self) -> list[str]:
        return list(dict.fromkeys((*self._sheets, *self._infos)))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {len(self._sheets)} prices>"


class StaticSource(_Keyed):
    """Sheets and infos given in memory, e.g. the configuration's per-model ``price:`` overrides."""

    def __init__(
        self,
        sheets: Mapping[str, PriceSheet] | Iterable[PriceSheet] = (),
        infos: Mapping[str, ModelInfo] | Iterable[ModelInfo] = (),
        *,
        name: str = "static",
    ) -> None:
        self.name = name
        super().__init__(
            sheets if isinstance(sheets, Mapping) else {s.model: s for s in sheets},
            infos if isinstance(infos, Mapping) else {i.model: i for i in infos},
        )


# ---------------------------------------------------------------------------------------------
# Price files


_Price = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
_Tokens = Annotated[int, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class _FileTier(_Strict):
    above_input_tokens: Annotated[int, Field(ge=0)]
    input_per_mtok: _Price
    output_per_mtok: _Price
    cached_input_per_mtok: _Price | None = None
    cache_write_per_mtok: _Price | None = None
    cache_write_1h_per_mtok: _Price | None = None

    def tier(self) -> PriceTier:
        return PriceTier(
            self.above_input_tokens,
            self.input_per_mtok,
            self.output_per_mtok,
            self.cached_input_per_mtok,
            self.cache_write_per_mtok,
            self.cache_write_1h_per_mtok,
        )


class _FileServiceTier(_Strict):
    input_per_mtok: _Price
    output_per_mtok: _Price
    cached_input_per_mtok: _Price | None = None
    cache_write_per_mtok: _Price | None = None
    cache_write_1h_per_mtok: _Price | None = None
    tiers: list[_FileTier] = Field(default_factory=list)


class _FileEntry(_FileServiceTier):
    flex: _FileServiceTier | None = None
    batch: _FileServiceTier | None = None
    priority: _FileServiceTier | None = None
    effective_date: str | None = None
    source: str | None = None
    provider: str = ""
    mode: str | None = None
    max_input_tokens: _Tokens | None = None
    max_output_tokens: _Tokens | None = None
    supports_tools: bool | None = None
    supports_vision: bool | None = None
    supports_json: bool | None = None
    supports_streaming: bool | None = True


def _parse_entry(model: str, raw: Any, problems: list[tuple[str, str]]) -> _FileEntry | None:
    if not isinstance(raw, Mapping):
        problems.append((model, "must be a mapping of prices"))
        return None
    try:
        return _FileEntry.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append((key_path((model, *err["loc"])), message))
        return None


class PriceFileSource(_Keyed):
    """Prices from a JSON or YAML file mapping model names to prices in $ per million tokens::

        gpt-4o:
          input_per_mtok: 2.50
          output_per_mtok: 10
          cached_input_per_mtok: 1.25     # optional; also cache_write_per_mtok,
                                          # cache_write_1h_per_mtok, tiers (long context)
          batch:                          # optional: prices of the flex, batch and priority
            input_per_mtok: 1.25          # service tiers, each with the same keys
            output_per_mtok: 5
          max_input_tokens: 128000        # optional ModelInfo fields, and mode (chat, ...)

    The file is read and validated when the source is created; every problem is reported at once
    in a :class:`~costroute.ConfigError` naming the file and the key path.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = f"file:{self.path}"
        raw = read_structured(self.path, what="price file", formats=(".json", ".yaml", ".yml"))
        if not isinstance(raw, Mapping):
            raise ConfigError(f"price file {self.path} must map model names to prices")
        problems: list[tuple[str, str]] = []
        sheets: dict[str, PriceSheet] = {}
        infos: dict[str, ModelInfo] = {}
        for model, value in raw.items():
            entry = _parse_entry(str(model), value, problems)
            if entry is not None:
                sheets[str(model)], infos[str(model)] = self._convert(str(model), entry)
        if problems:
            lines = "\n".join(f"  {loc}: {msg}" for loc, msg in problems)
            count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
            raise ConfigError(
                f"invalid price file {self.path} ({count}):\n{lines}",
                problems=[(f"{self.path}: {loc}", msg) for loc, msg in problems],
            )
        super().__init__(sheets, infos)

    def _convert(self, model: str, e: _FileEntry) -> tuple[PriceSheet, ModelInfo]:
        long_context: dict[ServiceTier, tuple[PriceTier, ...]] = {"default": tuple(t.tier() for t in e.tiers)}
        others: tuple[tuple[ServiceTier, _FileServiceTier | None], ...] = (
            ("flex", e.flex),
            ("batch", e.batch),
            ("priority", e.priority),
        )
        for name, sub in others:
            if sub is not None:
                long_context[name] = tuple(t.tier() for t in sub.tiers)
        sheet = price_sheet(
            model,
            e,
            source=e.source or str(self.path),
            effective_date=e.effective_date,
            long_context=long_context,
        )
        info = ModelInfo(
            model=model,
            provider=e.provider,
            max_input_tokens=e.max_input_tokens,
            max_output_tokens=e.max_output_tokens,
            supports_tools=e.supports_tools,
            supports_vision=e.supports_vision,
            supports_json=e.supports_json,
            supports_streaming=e.supports_streaming,
            mode=e.mode,
        )
        return sheet, info


# ---------------------------------------------------------------------------------------------
# The bundled snapshot


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _snapshot_tiers(rows: Any) -> tuple[PriceTier, ...]:
    """Long-context rows ``[above, input, output, read, write(, write_1h)]`` (format 1 has no
    1-hour write)."""
    return tuple(
        PriceTier(int(t[0]), Decimal(t[1]), Decimal(t[2]), _decimal(t[3]), _decimal(t[4]), _decimal(_at(t, 5)))
        for t in rows or ()
    )


def _at(row: list[Any], i: int) -> Any:
    return row[i] if len(row) > i else None


def _snapshot_sheet(model: str, raw: dict[str, Any], tier: ServiceTier, date: str | None, source: str) -> PriceSheet:
    derived = raw.get("derived")
    if derived:  # prices the build filled in by a provider's documented rule (providers._table)
        source = f"{source} ({tier}: {', '.join(derived)} by provider rule)"
    return PriceSheet(
        model=model,
        input_per_mtok=Decimal(raw["input"]),
        output_per_mtok=Decimal(raw["output"]),
        cached_input_per_mtok=_decimal(raw.get("cache_read")),
        cache_write_per_mtok=_decimal(raw.get("cache_write")),
        cache_write_1h_per_mtok=_decimal(raw.get("cache_write_1h")),
        tiers=_snapshot_tiers(raw.get("tiers")),
        effective_date=date,
        source=source,
        service_tier=tier,
    )


class SnapshotSource:
    """The price snapshot bundled with costroute (from litellm's price map; see ``built_from``).

    ``modes`` are the kinds of model the source answers for (litellm's ``mode``: ``chat``,
    ``embedding``, ``responses``, ...; ``None`` for every kind). The default, chat models only, is
    what routing may choose from. The file is read and parsed on first use, once per instance;
    sheets are built on demand.
    """

    name = "snapshot"

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, modes: Iterable[str] | None = ("chat",)
    ) -> None:
        self._path = None if path is None else Path(path)
        self._modes = None if modes is None else frozenset(modes)
        self._data: dict[str, dict[str, Any]] | None = None
        self._lower: dict[str, str] = {}
        self._header: dict[str, Any] = {}
        self._sheets: dict[str, PriceSheet] = {}
        self._infos: dict[str, ModelInfo] = {}

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._data is None:
            if self._path is None:
                blob = files(__package__).joinpath(SNAPSHOT_FILE).read_bytes()
            else:
                blob = self._path.read_bytes()
            document = json.loads(gzip.decompress(blob))
            models: dict[str, dict[str, Any]] = document.pop("models")
            if self._modes is not None:
                models = {k: v for k, v in models.items() if v.get("mode", "chat") in self._modes}
            self._header = document
            self._lower = {k.lower(): k for k in models}
            self._data = models
        return self._data

    @property
    def header(self) -> dict[str, Any]:
        """``built_from`` (the litellm version), ``built_at`` and the format ``version``."""
        self._load()
        return dict(self._header)

    def _entry(self, model: str) -> tuple[str, dict[str, Any]] | None:
        data = self._load()
        key = model if model in data else self._lower.get(model.lower())
        return None if key is None else (key, data[key])

    def sheet(self, model: str) -> PriceSheet | None:
        found = self._entry(model)
        if found is None:
            return None
        key, raw = found
        sheet = self._sheets.get(key)
        if sheet is None:
            date = self._header.get("effective_date")
            source = raw.get("source") or str(self._header.get("built_from", ""))
            others = raw.get("service_tiers") or {}
            sheet = dataclasses.replace(
                _snapshot_sheet(key, raw, "default", date, source),
                service_tiers=tuple(
                    _snapshot_sheet(key, others[name], name, date, source) for name in SERVICE_TIERS if name in others
                ),
            )
            self._sheets[key] = sheet
        return sheet

    def info(self, model: str) -> ModelInfo | None:
        found = self._entry(model)
        if found is None:
            return None
        key, raw = found
        info = self._infos.get(key)
        if info is None:
            info = ModelInfo(
                model=key,
                provider=raw.get("provider", ""),
                max_input_tokens=raw.get("max_input"),
                max_output_tokens=raw.get("max_output"),
                supports_tools=raw.get("tools"),
                supports_vision=raw.get("vision"),
                supports_json=raw.get("json"),
                mode=raw.get("mode", "chat"),
            )
            self._infos[key] = info
        return info

    def models(self) -> list[str]:
        return list(self._load())

    def __repr__(self) -> str:
        return f"<SnapshotSource {self._header.get('built_from', '(not loaded)')}>"


# ---------------------------------------------------------------------------------------------
# Plug-ins


def entry_point_sources(group: str = ENTRY_POINT_GROUP) -> list[PricingSource]:
    """Instantiate every pricing plug-in registered under the entry-point ``group``.

    Each entry point names a class or factory that, called without arguments, returns a
    :class:`PricingSource`. A plug-in that fails to load, raises, or returns something else is
    logged on ``costroute.pricing`` and skipped.
    """
    sources: list[PricingSource] = []
    for ep in importlib.metadata.entry_points(group=group):
        try:
            source = ep.load()()
        except Exception:
            logger.exception("pricing plug-in %r (%s) failed to load; skipped", ep.name, ep.value)
            continue
        if not isinstance(source, PricingSource):
            logger.error(
                "pricing plug-in %r (%s) returned %r, not a PricingSource; skipped",
                ep.name,
                ep.value,
                type(source).__name__,
            )
            continue
        sources.append(source)
    return sources
