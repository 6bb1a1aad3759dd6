#!/usr/bin/env python
"""Build ``src/costroute/pricing/snapshot.json.gz`` from the price map the installed litellm ships.

Reads ``model_prices_and_context_window_backup.json`` from litellm's package directory without
importing litellm and without touching the network. Keeps ``mode == "chat"`` models that have both
an input and an output price, converted to exact decimal strings in US dollars per million tokens.

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

PRICE_MAP = "model_prices_and_context_window_backup.json"
OUT = Path(__file__).resolve().parent.parent / "src" / "costroute" / "pricing" / "snapshot.json.gz"
FORMAT_VERSION = 1
SIGNIFICANT_DIGITS = 10

# Long-context tiers: standard pricing only (no _priority, _batches, _flex, 1-hour cache writes).
_TIER_KEY = re.compile(
    r"^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost"
    r"|cache_creation_input_token_cost)_above_(\d+)k_tokens$"
)
_TIER_FIELDS = (
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
)


def litellm_dir() -> Path:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("litellm is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def per_mtok(cost_per_token: Any) -> str | None:
    """A per-token float as an exact decimal string per million tokens, free of float noise."""
    if isinstance(cost_per_token, bool) or not isinstance(cost_per_token, int | float):
        return None
    value = Decimal(repr(cost_per_token)).scaleb(6)
    if value < 0:
        return None
    if value == 0:
        return "0"
    exponent = value.adjusted() - SIGNIFICANT_DIGITS + 1
    rounded = value.quantize(Decimal(1).scaleb(exponent)).normalize()
    return format(rounded, "f")


def tiers(entry: dict[str, Any]) -> list[list[Any]]:
    found: dict[int, dict[str, Any]] = {}
    for key, value in entry.items():
        match = _TIER_KEY.match(key)
        if match:
            found.setdefault(int(match.group(2)) * 1000, {})[match.group(1)] = value
    rows = []
    for above, prices in sorted(found.items()):
        row = [per_mtok(prices.get(field)) for field in _TIER_FIELDS]
        if row[0] is None or row[1] is None:
            continue
        rows.append([above, *row])
    return rows


def convert(entry: dict[str, Any]) -> dict[str, Any] | None:
    if entry.get("mode") != "chat":
        return None
    price_in = per_mtok(entry.get("input_cost_per_token"))
    price_out = per_mtok(entry.get("output_cost_per_token"))
    if price_in is None or price_out is None:
        return None
    out: dict[str, Any] = {
        "provider": entry.get("litellm_provider", ""),
        "input": price_in,
        "output": price_out,
    }
    optional = {
        "cache_read": per_mtok(entry.get("cache_read_input_token_cost")),
        "cache_write": per_mtok(entry.get("cache_creation_input_token_cost")),
        "tiers": tiers(entry),
        "max_input": entry.get("max_input_tokens"),
        "max_output": entry.get("max_output_tokens"),
        "tools": entry.get("supports_function_calling"),
        "vision": entry.get("supports_vision"),
        "json": entry.get("supports_response_schema"),
        "source": entry.get("source"),
    }
    for key, value in optional.items():
        if key in ("max_input", "max_output") and not isinstance(value, int):
            continue
        if key in ("tools", "vision", "json") and not isinstance(value, bool):
            continue
        if key == "source" and not isinstance(value, str):
            continue
        if value is not None and value != []:
            out[key] = value
    return out


def build(price_map: dict[str, Any], version: str, built_at: str) -> dict[str, Any]:
    models = {}
    for name in sorted(price_map):
        entry = price_map[name]
        if name == "sample_spec" or not isinstance(entry, dict):
            continue
        converted = convert(entry)
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
    print(
        f"wrote {args.out}: {len(document['models'])} chat models from {document['built_from']}, "
        f"{args.out.stat().st_size / 1024:.0f} KiB",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
