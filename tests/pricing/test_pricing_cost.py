"""Golden costs, hand-computed, for each provider's usage shape."""

from __future__ import annotations

import warnings
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace

import pytest

from costroute.pricing import (
    PriceSheet,
    PriceTier,
    Usage,
    cost_of,
    estimate_cost,
    usage_from_openai,
)

D = Decimal

O3 = PriceSheet("openai/o3", D("2"), D("8"), cached_input_per_mtok=D("0.5"))
SONNET = PriceSheet(
    "anthropic/claude-sonnet-4-5",
    D("3"),
    D("15"),
    cached_input_per_mtok=D("0.3"),
    cache_write_per_mtok=D("3.75"),
)
GEMINI_PRO = PriceSheet(
    "gemini/gemini-2.5-pro",
    D("1.25"),
    D("10"),
    cached_input_per_mtok=D("0.125"),
    tiers=(PriceTier(200_000, D("2.5"), D("15"), cached_input_per_mtok=D("0.25")),),
)
DEEPSEEK = PriceSheet(
    "deepseek/deepseek-chat", D("0.28"), D("0.42"), cached_input_per_mtok=D("0.028")
)
MINI = PriceSheet("openai/gpt-4o-mini", D("0.15"), D("0.6"))


def test_openai_cached_and_reasoning() -> None:
    usage = usage_from_openai(
        {
            "prompt_tokens": 2000,
            "completion_tokens": 700,
            "total_tokens": 2700,
            "prompt_tokens_details": {"cached_tokens": 1500, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 300},
        },
        "openai",
    )
    assert usage == Usage(
        input_tokens=500, output_tokens=400, cache_read_tokens=1500, reasoning_tokens=300
    )
    # 500 x $2 + 1500 x $0.5 + (400 + 300) x $8 = 7350 $/Mtok
    assert cost_of(O3, usage) == D("0.00735")


def test_openai_responses_shape() -> None:
    usage = usage_from_openai(
        {
            "input_tokens": 2000,
            "input_tokens_details": {"cached_tokens": 1500},
            "output_tokens": 700,
            "output_tokens_details": {"reasoning_tokens": 300},
        },
        "openai",
    )
    assert usage == Usage(
        input_tokens=500, output_tokens=400, cache_read_tokens=1500, reasoning_tokens=300
    )


def test_anthropic_cache_read_and_write() -> None:
    native = {
        "input_tokens": 100,
        "cache_read_input_tokens": 10_000,
        "cache_creation_input_tokens": 2000,
        "output_tokens": 500,
    }
    usage = usage_from_openai(native, "anthropic")
    assert usage == Usage(
        input_tokens=100, output_tokens=500, cache_read_tokens=10_000, cache_write_tokens=2000
    )
    # 100 x 3 + 10000 x 0.3 + 2000 x 3.75 + 500 x 15 = 18300 $/Mtok
    assert cost_of(SONNET, usage) == D("0.0183")
    # Without the provider hint the cache keys still identify Anthropic's shape.
    assert usage_from_openai(native, "") == usage


def test_anthropic_as_litellm_reports_it() -> None:
    """litellm folds cache reads and writes into prompt_tokens (AnthropicConfig.calculate_usage)."""
    as_dict = {
        "prompt_tokens": 12_100,
        "completion_tokens": 500,
        "total_tokens": 12_600,
        "prompt_tokens_details": {"cached_tokens": 10_000, "cache_creation_tokens": 2000},
        "cache_read_input_tokens": 10_000,
        "cache_creation_input_tokens": 2000,
    }
    expected = Usage(
        input_tokens=100, output_tokens=500, cache_read_tokens=10_000, cache_write_tokens=2000
    )
    assert usage_from_openai(as_dict, "anthropic") == expected


def test_anthropic_through_real_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pytest.importorskip("litellm")
        warnings.simplefilter("ignore")
        from litellm.llms.anthropic.chat.transformation import AnthropicConfig

        litellm_usage = AnthropicConfig().calculate_usage(
            {
                "input_tokens": 100,
                "cache_read_input_tokens": 10_000,
                "cache_creation_input_tokens": 2000,
                "output_tokens": 500,
            },
            reasoning_content=None,
        )
    assert litellm_usage.prompt_tokens == 12_100  # the convention this module relies on
    usage = usage_from_openai(litellm_usage, "anthropic")
    assert usage == Usage(
        input_tokens=100, output_tokens=500, cache_read_tokens=10_000, cache_write_tokens=2000
    )
    assert cost_of(SONNET, usage) == D("0.0183")


def test_gemini_long_context_tier() -> None:
    meta = {
        "promptTokenCount": 250_000,
        "cachedContentTokenCount": 50_000,
        "candidatesTokenCount": 1000,
        "thoughtsTokenCount": 2000,
        "totalTokenCount": 253_000,
    }
    usage = usage_from_openai(meta, "gemini")
    assert usage == Usage(
        input_tokens=200_000, output_tokens=1000, cache_read_tokens=50_000, reasoning_tokens=2000
    )
    # Over 200k: the whole request at the tier: 200000 x 2.5 + 50000 x 0.25 + 3000 x 15 = 557500
    assert cost_of(GEMINI_PRO, usage) == D("0.5575")


def test_gemini_at_the_threshold_is_base_price() -> None:
    usage = Usage(
        input_tokens=150_000, cache_read_tokens=50_000, output_tokens=1000, reasoning_tokens=2000
    )
    assert usage.prompt_tokens == 200_000  # not above 200k
    # 150000 x 1.25 + 50000 x 0.125 + 3000 x 10 = 223750
    assert cost_of(GEMINI_PRO, usage) == D("0.22375")


def test_highest_applicable_tier_wins() -> None:
    sheet = PriceSheet(
        "m",
        D("1"),
        D("1"),
        tiers=(PriceTier(1000, D("3"), D("3")), PriceTier(100, D("2"), D("2"))),
    )
    assert cost_of(sheet, Usage(input_tokens=50)) == D("0.00005")
    assert cost_of(sheet, Usage(input_tokens=500)) == D("0.001")
    assert cost_of(sheet, Usage(input_tokens=1500)) == D("0.0045")


def test_deepseek_cache_hit() -> None:
    usage = usage_from_openai(
        {
            "prompt_tokens": 10_000,
            "completion_tokens": 1000,
            "prompt_cache_hit_tokens": 8000,
            "prompt_cache_miss_tokens": 2000,
        },
        "deepseek",
    )
    assert usage == Usage(input_tokens=2000, output_tokens=1000, cache_read_tokens=8000)
    # 2000 x 0.28 + 8000 x 0.028 + 1000 x 0.42 = 1204
    assert cost_of(DEEPSEEK, usage) == D("0.001204")


def test_plain_usage_from_an_object() -> None:
    usage = usage_from_openai(SimpleNamespace(prompt_tokens=1000, completion_tokens=500), "openai")
    assert usage == Usage(input_tokens=1000, output_tokens=500)
    assert cost_of(MINI, usage) == D("0.00045")
    assert estimate_cost(MINI, 1000, 500) == D("0.00045")


def test_cache_prices_fall_back_to_input() -> None:
    usage = Usage(cache_read_tokens=1000, cache_write_tokens=1000)
    assert cost_of(MINI, usage) == D("0.0003")


def test_bad_counts_never_go_negative() -> None:
    usage = usage_from_openai(
        {
            "prompt_tokens": 100,
            "completion_tokens": -5,
            "prompt_tokens_details": {"cached_tokens": 400},
            "completion_tokens_details": {"reasoning_tokens": None},
        },
        "openai",
    )
    assert usage == Usage(input_tokens=0, output_tokens=0, cache_read_tokens=400)
    assert usage_from_openai(None, "openai") == Usage()
    assert usage_from_openai({"prompt_tokens": float("nan"), "completion_tokens": True}) == Usage()


def test_negative_usage_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        cost_of(MINI, Usage(input_tokens=-1))


# ---------------------------------------------------------------------------------------------
# 1-hour cache writes

SONNET_1H = PriceSheet(
    "anthropic/claude-sonnet-4-5",
    D("3"),
    D("15"),
    cached_input_per_mtok=D("0.3"),
    cache_write_per_mtok=D("3.75"),
    cache_write_1h_per_mtok=D("6"),
)


def test_one_hour_writes_are_billed_at_their_own_price() -> None:
    """The issue's case: 20,000 tokens written to the 1-hour cache and 1,000 output tokens."""
    native = {
        "input_tokens": 0,
        "cache_creation_input_tokens": 20_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 20_000},
        "output_tokens": 1000,
    }
    usage = usage_from_openai(native, "anthropic")
    assert usage == Usage(output_tokens=1000, cache_write_1h_tokens=20_000)
    assert usage.prompt_tokens == 20_000
    # 20000 x $6 + 1000 x $15 = 135000 $/Mtok; at the 5-minute rate it was 20000 x 3.75 + 15000 = 90000
    assert cost_of(SONNET_1H, usage) == D("0.135")
    assert cost_of(SONNET, usage) == D("0.09")  # a sheet without a 1-hour price: the write price


def test_mixed_lifetimes_and_unattributed_writes() -> None:
    native = {
        "input_tokens": 50,
        "cache_read_input_tokens": 4000,
        "cache_creation_input_tokens": 3500,  # 1000 of them not in the breakdown: 5-minute writes
        "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 2000},
        "output_tokens": 200,
    }
    usage = usage_from_openai(native, "anthropic")
    assert usage == Usage(
        input_tokens=50,
        output_tokens=200,
        cache_read_tokens=4000,
        cache_write_tokens=1500,
        cache_write_1h_tokens=2000,
    )
    # 50 x 3 + 4000 x 0.3 + 1500 x 3.75 + 2000 x 6 + 200 x 15 = 150 + 1200 + 5625 + 12000 + 3000
    assert cost_of(SONNET_1H, usage) == D("0.021975")


def test_one_hour_writes_through_real_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    """litellm keeps the split in prompt_tokens_details.cache_creation_token_details."""
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pytest.importorskip("litellm")
        from litellm.llms.anthropic.chat.transformation import AnthropicConfig

        litellm_usage = AnthropicConfig().calculate_usage(
            {
                "input_tokens": 50,
                "cache_read_input_tokens": 4000,
                "cache_creation_input_tokens": 3500,
                "cache_creation": {"ephemeral_5m_input_tokens": 1500, "ephemeral_1h_input_tokens": 2000},
                "output_tokens": 200,
            },
            reasoning_content=None,
        )
    assert litellm_usage.prompt_tokens == 7550
    usage = usage_from_openai(litellm_usage, "anthropic")
    assert (usage.input_tokens, usage.cache_write_tokens, usage.cache_write_1h_tokens) == (50, 1500, 2000)
    assert cost_of(SONNET_1H, usage) == D("0.021975")
    # The same block as a plain dict, as a proxy or a stored response carries it.
    dumped = litellm_usage.model_dump()
    assert usage_from_openai(dumped, "anthropic") == usage


def test_anthropic_iterations_are_summed() -> None:
    native = {
        "input_tokens": 10,  # the last iteration only
        "output_tokens": 5,
        "iterations": [
            {"input_tokens": 100, "output_tokens": 40, "cache_read_input_tokens": 1000},
            {
                "input_tokens": 10,
                "output_tokens": 5,
                "cache_creation_input_tokens": 300,
                "cache_creation": {"ephemeral_1h_input_tokens": 300},
            },
        ],
    }
    assert usage_from_openai(native, "anthropic") == Usage(
        input_tokens=110, output_tokens=45, cache_read_tokens=1000, cache_write_1h_tokens=300
    )
    # Iterations without a lifetime breakdown: the top-level one splits their writes.
    native["iterations"][1].pop("cache_creation")
    native["cache_creation"] = {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200}
    assert usage_from_openai(native, "anthropic") == Usage(
        input_tokens=110, output_tokens=45, cache_read_tokens=1000, cache_write_tokens=100, cache_write_1h_tokens=200
    )


def test_bedrock_converse_shape_with_cache_details() -> None:
    native = {
        "inputTokens": 120,
        "outputTokens": 80,
        "totalTokens": 2700,
        "cacheReadInputTokens": 1000,
        "cacheWriteInputTokens": 1500,
        "cacheDetails": [{"ttl": "5m", "inputTokens": 500}, {"ttl": "1h", "inputTokens": 1000}],
    }
    usage = usage_from_openai(native, "bedrock_converse")
    assert usage == Usage(
        input_tokens=120,
        output_tokens=80,
        cache_read_tokens=1000,
        cache_write_tokens=500,
        cache_write_1h_tokens=1000,
    )
    # 120 x 3 + 1000 x 0.3 + 500 x 3.75 + 1000 x 6 + 80 x 15 = 360 + 300 + 1875 + 6000 + 1200
    assert cost_of(SONNET_1H, usage) == D("0.009735")
    # InvokeModel spells the counts ...Count and gives no lifetimes.
    invoke = {"inputTokens": 1, "outputTokens": 2, "cacheReadInputTokenCount": 3, "cacheWriteInputTokenCount": 4}
    assert usage_from_openai(invoke, "bedrock") == Usage(
        input_tokens=1, output_tokens=2, cache_read_tokens=3, cache_write_tokens=4
    )


def test_long_context_tier_has_its_own_one_hour_price() -> None:
    """Bedrock's Claude Sonnet 4.5 above 200k tokens: input 6, output 22.5, 1-hour write 12."""
    sheet = replace(
        SONNET_1H,
        tiers=(PriceTier(200_000, D("6"), D("22.5"), D("0.6"), D("7.5"), D("12")),),
    )
    usage = Usage(input_tokens=150_000, cache_write_1h_tokens=60_000, output_tokens=1000)
    # 210k prompt: 150000 x 6 + 60000 x 12 + 1000 x 22.5 = 900000 + 720000 + 22500
    assert cost_of(sheet, usage) == D("1.6425")
    no_1h = replace(sheet, tiers=(PriceTier(200_000, D("6"), D("22.5"), D("0.6"), D("7.5")),))
    # A tier without a 1-hour price falls back to its own write price: 60000 x 7.5 = 450000
    assert cost_of(no_1h, usage) == D("1.3725")


def test_bedrock_converse_through_real_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    native = {
        "inputTokens": 120,
        "outputTokens": 80,
        "totalTokens": 2700,
        "cacheReadInputTokens": 1000,
        "cacheWriteInputTokens": 1500,
        "cacheDetails": [{"ttl": "5m", "inputTokens": 500}, {"ttl": "1h", "inputTokens": 1000}],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pytest.importorskip("litellm")
        from litellm.llms.bedrock.chat.converse_transformation import AmazonConverseConfig

        through = AmazonConverseConfig().transform_usage(native)
    assert through.prompt_tokens == 2620
    assert usage_from_openai(through, "bedrock_converse") == usage_from_openai(native, "bedrock_converse")
