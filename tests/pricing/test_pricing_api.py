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
            "input_cost_per_token_priority": 2.25e-06,
            "output_cost_per_token_priority": 1.8e-05,
            "input_cost_per_token_above_200k_tokens_priority": 4.5e-06,
            "output_cost_per_token_above_200k_tokens_priority": 2.7e-05,
            "input_cost_per_token_flex": 6.25e-07,  # no output price at flex: no flex tier
            "input_cost_per_token_above_272k_tokens_ultrafast": 1e-05,  # not a tier costroute uses
            "max_input_tokens": 1048576,
            "supports_function_calling": True,
        },
        "embed": {"mode": "embedding", "input_cost_per_token": 1e-07},
        "no-output-price": {"mode": "chat", "input_cost_per_token": 1e-07},
        "image": {"mode": "image_generation", "output_cost_per_image": 0.04},
        "video": {"mode": "video_generation", "input_cost_per_token": 1e-07, "output_cost_per_token": 1e-07},
    }
    doc = script.build(price_map, "9.9.9", "2025-01-01")
    assert (doc["version"], doc["built_from"], doc["built_at"]) == (2, "litellm 9.9.9", "2025-01-01")
    assert list(doc["models"]) == ["embed", "gemini/x"]
    assert doc["models"]["embed"] == {"provider": "", "input": "0.1", "output": "0", "mode": "embedding"}
    assert doc["models"]["gemini/x"] == {
        "provider": "gemini",
        "input": "1.25",
        "output": "10",
        "tiers": [[200000, "2.5", "15", "0.25", None, None]],
        "service_tiers": {
            "priority": {"input": "2.25", "output": "18", "tiers": [[200000, "4.5", "27", None, None, None]]}
        },
        "max_input": 1048576,
        "tools": True,
    }


def test_build_script_reads_one_hour_writes_and_tier_keys() -> None:
    entry = {
        "mode": "chat",
        "litellm_provider": "anthropic",
        "input_cost_per_token": 3e-06,
        "output_cost_per_token": 1.5e-05,
        "cache_read_input_token_cost": 3e-07,
        "cache_creation_input_token_cost": 3.75e-06,
        "cache_creation_input_token_cost_above_1hr": 6e-06,
        "cache_creation_input_token_cost_above_1hr_above_200k_tokens": 1.2e-05,
        "input_cost_per_token_above_200k_tokens": 6e-06,
        "output_cost_per_token_above_200k_tokens": 2.25e-05,
        "cache_creation_input_token_cost_above_12hr": 1e-05,  # not a lifetime costroute prices
        "input_cost_per_token_batches": 1.5e-06,
        "output_cost_per_token_batches": 7.5e-06,
        "cache_read_input_token_cost_batches": 1.5e-07,
    }
    converted = _script().convert(entry, "claude-x")
    assert converted is not None
    assert (converted["cache_write"], converted["cache_write_1h"]) == ("3.75", "6")
    assert converted["tiers"] == [[200000, "6", "22.5", None, None, "12"]]
    # Anthropic's documented batch rule (50 % of every price, the model's own batch prices agree)
    # fills what the map leaves out, and says so.
    assert converted["service_tiers"] == {
        "batch": {
            "input": "1.5",
            "output": "7.5",
            "cache_read": "0.15",
            "cache_write": "1.875",
            "cache_write_1h": "3",
            "tiers": [[200000, "3", "11.25", None, None, "6"]],
            "derived": ["cache_write", "cache_write_1h", "tiers"],
        }
    }


def test_build_script_derives_nothing_the_model_contradicts() -> None:
    """A batch price that is not the provider's documented 50 % is taken as is, with no derived
    prices; an unknown provider gets none either."""
    entry = {
        "mode": "chat",
        "litellm_provider": "anthropic",
        "input_cost_per_token": 3e-06,
        "output_cost_per_token": 1.5e-05,
        "cache_read_input_token_cost": 3e-07,
        "input_cost_per_token_batches": 2e-06,
        "output_cost_per_token_batches": 1e-05,
    }
    script = _script()
    converted = script.convert(entry, "claude-y")
    assert converted is not None
    assert converted["service_tiers"] == {"batch": {"input": "2", "output": "10"}}
    unknown = script.convert({**entry, "litellm_provider": "acme", "input_cost_per_token_batches": 1.5e-06,
                              "output_cost_per_token_batches": 7.5e-06}, "m")
    assert unknown is not None and unknown["service_tiers"] == {"batch": {"input": "1.5", "output": "7.5"}}


def test_build_script_corrects_modes() -> None:
    mode = _script().effective_mode
    chat = {"mode": "chat", "input_cost_per_token": 1e-07, "output_cost_per_token": 1e-07}
    # Vercel AI Gateway lists its embedding models as chat, with no output price or tokens.
    assert mode("vercel_ai_gateway/cohere/embed-v4.0", {**chat, "output_cost_per_token": 0.0,
                                                        "max_input_tokens": 0, "max_output_tokens": 0}) == "embedding"
    # Fireworks lists FLUX.1 (text-to-image) as chat.
    assert mode("fireworks_ai/accounts/fireworks/models/flux-1-schnell", chat) == "image_generation"
    # Text-to-speech and music: no text output.
    assert mode("gemini/gemini-2.5-pro-preview-tts", {**chat, "supported_output_modalities": ["audio"]}) == (
        "audio_speech"
    )
    # An image model with image output (litellm labels the same model image_generation elsewhere).
    image_out = {**chat, "supported_output_modalities": ["text", "image"]}
    assert mode("databricks/databricks-gemini-3-pro-image", image_out) == "image_generation"
    # ... but a chat model that can also draw stays a chat model.
    assert mode("gpt-5.1", image_out) == "chat"
    assert mode("gpt-4o-audio-preview", {**chat, "supported_output_modalities": ["text", "audio"]}) == "chat"
    assert mode("text-embedding-3-small", {"mode": "embedding"}) == "embedding"
    assert mode("x", {}) is None
