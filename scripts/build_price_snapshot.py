#!/usr/bin/env python
"""Build ``src/costroute/pricing/snapshot.json.gz`` from the price map the installed litellm ships.

Reads ``model_prices_and_context_window_backup.json`` from litellm's package directory without
importing litellm and without touching the network. Keeps the models of the modes in ``MODES``
that have per-token prices, converted to exact decimal strings in US dollars per million tokens:

* the default prices, cache reads and writes (5-minute and 1-hour), long-context tiers;
* the ``flex``, ``batch`` and ``priority`` service tiers (litellm's ``*_flex``, ``*_batches`` and
  ``*_priority`` keys), each where the map prices both its input and its output, with that
  tier's own cache prices and long-context tiers;
* a price the map leaves out of a service tier only where ``costroute.providers``' table holds a
  documented rule for it, and the model's own tier prices confirm the rule; such prices are
  listed in the tier's ``derived``;
* the model's mode, corrected where litellm labels a non-chat model ``chat`` (``effective_mode``).

Usage: python scripts/build_price_snapshot.py [--out PATH] [--date YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import importlib.metadata
import importlib.util
import json
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from costroute.providers._table import TierPriceRule, provider_rules

PRICE_MAP = "model_prices_and_context_window_backup.json"
OUT = Path(__file__).resolve().parent.parent / "src" / "costroute" / "pricing" / "snapshot.json.gz"
FORMAT_VERSION = 2
SIGNIFICANT_DIGITS = 10

#: Modes kept: chat (what routing may choose) and the others ``costroute prices --mode`` shows.
MODES = frozenset(
    {
        "chat",
        "responses",
        "completion",
        "embedding",
        "rerank",
        "moderation",
        "realtime",
        "audio_speech",
        "audio_transcription",
        "image_generation",
    }
)
_NO_OUTPUT_MODES = frozenset({"embedding", "rerank", "moderation"})  # output price 0 when absent

# Snapshot field <- litellm key prefix.
_FIELDS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_read": "cache_read_input_token_cost",
    "cache_write": "cache_creation_input_token_cost",
    "cache_write_1h": "cache_creation_input_token_cost_above_1hr",
}
_FIELD_OF = {prefix: name for name, prefix in _FIELDS.items()}
_ROW = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
_SUFFIXES = {"": "default", "_flex": "flex", "_batches": "batch", "_priority": "priority"}
# e.g. cache_creation_input_token_cost_above_1hr_above_200k_tokens_batches. Other suffixes
# (_ultrafast, _decisions, 12-hour writes) are prices costroute does not route by.
_PRICE_KEY = re.compile(
    r"^(?P<prefix>input_cost_per_token|output_cost_per_token|cache_read_input_token_cost"
    r"|cache_creation_input_token_cost(?:_above_1hr)?)"
    r"(?:_above_(?P<n>\d+)(?P<k>k?)_tokens)?(?P<suffix>_flex|_batches|_priority)?$"
)

# Image-generation families some providers list as chat models (Fireworks' FLUX.1).
_IMAGE_FAMILY = re.compile(r"^(flux|stable-diffusion|sdxl|dall-e|imagen)([-._]|$)")
_IMAGE_WORD = re.compile(r"(^|[-_.])image($|[-_.])")


def litellm_dir() -> Path:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("litellm is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _decimal_text(value: Decimal) -> str:
    if value == 0:
        return "0"
    exponent = value.adjusted() - SIGNIFICANT_DIGITS + 1
    return format(value.quantize(Decimal(1).scaleb(exponent)).normalize(), "f")


def per_mtok(cost_per_token: Any) -> str | None:
    """A per-token float as an exact decimal string per million tokens, free of float noise."""
    if isinstance(cost_per_token, bool) or not isinstance(cost_per_token, int | float):
        return None
    value = Decimal(repr(cost_per_token)).scaleb(6)
    return None if value < 0 else _decimal_text(value)


def effective_mode(name: str, entry: dict[str, Any]) -> str | None:
    """litellm's mode, corrected for models it labels ``chat`` that are not:

    * output modalities without text: text-to-speech and music models (Gemini TTS, Lyria), as
      litellm itself labels the Vertex AI Lyria entries ``audio_speech``;
    * embedding models with no output price nor output tokens (Vercel AI Gateway's embed models);
    * image models: an ``image`` model name with image output (Databricks' Gemini image models,
      ``image_generation`` under ``gemini/``), and known image families (Fireworks' FLUX.1).
    """
    mode = entry.get("mode")
    if mode != "chat":
        return mode if isinstance(mode, str) else None
    outputs = entry.get("supported_output_modalities")
    outputs = [o for o in outputs if isinstance(o, str)] if isinstance(outputs, list) else []
    last = name.rsplit("/", 1)[-1].lower()
    if outputs and "text" not in outputs:
        if "audio" in outputs:
            return "audio_speech"
        if "image" in outputs:
            return "image_generation"
    if "embed" in last and not entry.get("output_cost_per_token") and not entry.get("max_output_tokens"):
        return "embedding"
    if ("image" in outputs and _IMAGE_WORD.search(last)) or _IMAGE_FAMILY.match(last):
        return "image_generation"
    return "chat"


def _prices_by_tier(entry: dict[str, Any]) -> dict[str, dict[int | None, dict[str, str]]]:
    """service tier -> long-context threshold (``None`` for the base prices) -> field -> price."""
    found: dict[str, dict[int | None, dict[str, str]]] = {}
    for key, value in entry.items():
        match = _PRICE_KEY.match(key)
        price = per_mtok(value) if match else None
        if match is None or price is None:
            continue
        above = None if match["n"] is None else int(match["n"]) * (1000 if match["k"] else 1)
        tier = _SUFFIXES[match["suffix"] or ""]
        found.setdefault(tier, {}).setdefault(above, {})[_FIELD_OF[match["prefix"]]] = price
    return found


def _sheet(levels: dict[int | None, dict[str, str]]) -> dict[str, Any] | None:
    base = levels.get(None, {})
    if "input" not in base or "output" not in base:
        return None
    sheet: dict[str, Any] = {f: base[f] for f in _ROW if f in base}
    rows = [
        [above, *(prices.get(f) for f in _ROW)]
        for above, prices in sorted((a, p) for a, p in levels.items() if a is not None)
        if "input" in prices and "output" in prices
    ]
    if rows:
        sheet["tiers"] = rows
    return sheet


def _rule(provider: str, tier: str) -> TierPriceRule | None:
    rules = provider_rules(provider)
    service = rules.flex if tier == "flex" else rules.batch if tier == "batch" else None
    return None if service is None else service.price


def _scaled(value: str | None, by: Decimal | None) -> str | None:
    return None if value is None or by is None else _decimal_text(Decimal(value) * by)


def derive(provider: str, default: dict[str, Any], tier: str, sheet: dict[str, Any]) -> list[str]:
    """Fill in ``sheet``'s missing prices from the provider's documented rules; the names filled."""
    derived: list[str] = []
    rule = _rule(provider, tier)
    confirmed = rule is not None and all(
        Decimal(sheet[f]) == Decimal(default[f]) * rule.fraction for f in ("input", "output")
    )
    if rule is not None and confirmed:
        cache = rule.cache_fraction
        for f in ("cache_read", "cache_write", "cache_write_1h"):
            if f not in sheet and (value := _scaled(default.get(f), cache)) is not None:
                sheet[f] = value
                derived.append(f)
        have = {row[0] for row in sheet.get("tiers", ())}
        extra = [
            [row[0], _scaled(row[1], rule.fraction), _scaled(row[2], rule.fraction),
             *(_scaled(v, cache) for v in row[3:])]
            for row in default.get("tiers", ())
            if row[0] not in have
        ]
        if extra:
            sheet["tiers"] = sorted([*sheet.get("tiers", ()), *extra], key=lambda row: row[0])
            derived.append("tiers")
    derived += _derive_one_hour(provider, default, sheet)
    return derived


def _derive_one_hour(provider: str, default: dict[str, Any], sheet: dict[str, Any]) -> list[str]:
    """A 1-hour write price at the provider's documented multiple of the input price, for a model
    whose default 1-hour price is exactly that multiple (Anthropic: 2x)."""
    cache = provider_rules(provider).cache
    multiple = None if cache is None else cache.write_multipliers.get(3600)
    if multiple is None or default.get("cache_write_1h") is None:
        return []
    if Decimal(default["cache_write_1h"]) != Decimal(default["input"]) * multiple:
        return []
    derived = []
    if "cache_write_1h" not in sheet:
        sheet["cache_write_1h"] = _decimal_text(Decimal(sheet["input"]) * multiple)
        derived.append("cache_write_1h")
    for row in sheet.get("tiers", ()):
        if row[5] is None:
            row[5] = _decimal_text(Decimal(row[1]) * multiple)
            if "tiers.cache_write_1h" not in derived:
                derived.append("tiers.cache_write_1h")
    return derived


def convert(entry: dict[str, Any], name: str = "") -> dict[str, Any] | None:
    mode = effective_mode(name, entry)
    if mode not in MODES:
        return None
    levels = _prices_by_tier(entry)
    default_levels = levels.get("default", {})
    if mode in _NO_OUTPUT_MODES and "input" in default_levels.get(None, {}):
        default_levels[None].setdefault("output", "0")
    default = _sheet(default_levels)
    if default is None:
        return None
    provider = entry.get("litellm_provider", "")
    out: dict[str, Any] = {"provider": provider, **default}
    if mode != "chat":
        out["mode"] = mode
    tiers: dict[str, Any] = {}
    for tier in ("flex", "batch", "priority"):
        sheet = _sheet(levels.get(tier, {}))
        if sheet is not None:
            derived = derive(str(provider), default, tier, sheet)
            tiers[tier] = {**sheet, "derived": derived} if derived else sheet
    if tiers:
        out["service_tiers"] = tiers
    optional = {
        "max_input": entry.get("max_input_tokens"),
        "max_output": entry.get("max_output_tokens"),
        "tools": entry.get("supports_function_calling"),
        "vision": entry.get("supports_vision"),
        "json": entry.get("supports_response_schema"),
        "source": entry.get("source"),
    }
    for key, value in optional.items():
        if key in ("max_input", "max_output") and not (isinstance(value, int) and not isinstance(value, bool)):
            continue
        if key in ("tools", "vision", "json") and not isinstance(value, bool):
            continue
        if key == "source" and not isinstance(value, str):
            continue
        out[key] = value
    return out


def build(price_map: dict[str, Any], version: str, built_at: str) -> dict[str, Any]:
    models = {}
    for name in sorted(price_map):
        entry = price_map[name]
        if name == "sample_spec" or not isinstance(entry, dict):
            continue
        converted = convert(entry, name)
        if converted is not None:
            models[name] = converted
    return {
        "version": FORMAT_VERSION,
        "built_from": f"litellm {version}",
        "built_at": built_at,
        "effective_date": f"{built_at} (litellm {version})",
        "models": models,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--date", default=dt.date.today().isoformat(), help="build date to record")
    args = parser.parse_args(argv)
    source = litellm_dir() / PRICE_MAP
    price_map = json.loads(source.read_text(encoding="utf-8"))
    document = build(price_map, importlib.metadata.version("litellm"), args.date)
    payload = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    args.out.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    models = document["models"]
    chat = sum(1 for m in models.values() if "mode" not in m)
    tiers = {t: sum(t in m.get("service_tiers", {}) for m in models.values()) for t in ("flex", "batch", "priority")}
    print(
        f"wrote {args.out}: {chat} chat models and {len(models) - chat} of other modes from "
        f"{document['built_from']} (service tiers: {tiers}), {args.out.stat().st_size / 1024:.0f} KiB",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
