"""The public surface of costroute.pricing, and the snapshot build script."""

from __future__ import annotations

import importlib.util
import inspect
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import costroute.pricing as pricing

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_price_snapshot.py"


def _isort_style(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_complete() -> None:
    public = {n for n in vars(pricing) if not n.startswith("_")} - {"annotations"}
    assert pricing.__all__ == sorted(pricing.__all__, key=_isort_style)
    assert set(pricing.__all__) == public
    for name in pricing.__all__:
        value = getattr(pricing, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.startswith("costroute.pricing"), name
    assert pricing.SERVICE_TIERS == ("default", "flex", "batch", "priority")


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_price_snapshot", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_script_converts_litellm_entries() -> None:
    script = _script()
    assert script.per_mtok(1.2500000000000002e-07) == "0.125"
    assert script.per_mtok(2.5e-06) == "2.5"
    assert script.per_mtok(0.0) == "0"
    assert script.per_mtok(None) is None
    assert Decimal(script.per_mtok(3e-06)) == Decimal(3)
    price_map = {
        "sample_spec": {"mode": "chat"},
        "gemini/x": {
            "mode": "chat",
            "litellm_provider": "gemini",
            "input_cost_per_token": 1.25e-06,
            "output_cost_per_token": 1e-05,
            "input_cost_per_token_above_200k_tokens": 2.5e-06,
            "output_cost_per_token_above_200k_tokens": 1.5e-05,
            "cache_read_input_token_cost_above_200k_tokens": 2.5e-07,
            "input_cost_per_token_above_200k_tokens_priority": 9e-06,
            "max_input_tokens": 1048576,
            "supports_function_calling": True,
        },
        "embed": {"mode": "embedding", "input_cost_per_token": 1e-07, "output_cost_per_token": 0},
        "no-output-price": {"mode": "chat", "input_cost_per_token": 1e-07},
    }
    doc = script.build(price_map, "9.9.9", "2025-01-01")
    assert doc["built_from"] == "litellm 9.9.9"
    assert doc["built_at"] == "2025-01-01"
    assert list(doc["models"]) == ["gemini/x"]
    entry = doc["models"]["gemini/x"]
    assert entry == {
        "provider": "gemini",
        "input": "1.25",
        "output": "10",
        "tiers": [[200000, "2.5", "15", "0.25", None]],
        "max_input": 1048576,
        "tools": True,
    }
