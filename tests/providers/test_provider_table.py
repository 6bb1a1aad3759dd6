"""The provider table: pure data, consistent with itself and with the prices costroute ships."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from costroute.pricing import PriceRegistry, SnapshotSource
from costroute.providers._table import PROVIDER_RULES, ProviderRules, provider_rules


def test_lookup_by_litellm_name_and_prefix() -> None:
    assert provider_rules("OpenAI").provider == "openai"
    assert provider_rules("bedrock_converse") is PROVIDER_RULES["bedrock"]
    assert provider_rules("vertex_ai-language-models") is PROVIDER_RULES["vertex_ai"]
    assert provider_rules("vertex_ai-anthropic_models").wire_format == "anthropic-messages"
    unknown = provider_rules("fireworks_ai")
    assert unknown == ProviderRules("fireworks_ai", "openai-chat", True, known=False)
    assert (unknown.cache, unknown.flex, unknown.batch) == (None, None, None)


def test_every_entry_is_sourced_and_sane() -> None:
    for name, rules in PROVIDER_RULES.items():
        assert rules.provider == name and rules.known
        for service in (rules.flex, rules.batch):
            if service is None:
                continue
            assert service.source, name
            if service.price is not None:
                assert Decimal(0) < service.price.fraction <= 1 and service.price.source, name
        if rules.batch is not None:
            assert rules.batch.completion_window_s >= 3600, name
            assert rules.batch.max_window_s is None or rules.batch.max_window_s >= rules.batch.completion_window_s
        if rules.cache is not None and rules.cache.mode == "cache_control":
            assert rules.cache.source and rules.cache.lifetimes_s, name


def test_flex_refusal_signals() -> None:
    openai = PROVIDER_RULES["openai"].flex
    assert openai is not None
    assert (openai.refusal_status, openai.refusal_codes) == (429, ("resource_unavailable",))
    assert not openai.refusal_billed
    assert openai.parameter == {"service_tier": "flex"}
    groq = PROVIDER_RULES["groq"].flex
    assert groq is not None and (groq.refusal_status, groq.refusal_codes) == (498, ("capacity_exceeded",))
    assert PROVIDER_RULES["anthropic"].flex is None


def test_batch_limits() -> None:
    openai, anthropic = PROVIDER_RULES["openai"].batch, PROVIDER_RULES["anthropic"].batch
    assert openai is not None and anthropic is not None
    assert (openai.max_requests, openai.max_bytes, openai.completion_window_s) == (50_000, 200_000_000, 86_400)
    assert (anthropic.max_requests, anthropic.max_bytes) == (100_000, 256_000_000)
    assert anthropic.price is not None and anthropic.price.cache_fraction == Decimal("0.5")


@pytest.mark.parametrize(
    ("provider", "model", "tokens"),
    [
        ("anthropic", "claude-sonnet-4-5-20250929", 1024),
        ("anthropic", "claude-opus-4-5", 4096),
        ("anthropic", "claude-opus-4-1", 1024),
        ("anthropic", "claude-haiku-4-5", 4096),
        ("anthropic", "claude-3-5-haiku-20241022", 2048),
        ("anthropic", "claude-opus-5", 4096),  # not documented: the highest known minimum
        ("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", 1024),
        ("vertex_ai-anthropic_models", "claude-sonnet-4-6@20260101", 2048),
        ("openai", "gpt-5", 1024),
        ("gemini", "gemini-2.5-flash", 2048),
        ("gemini", "gemini-3.5-flash", 4096),
        ("deepseek", "deepseek-chat", 64),
    ],
)
def test_minimum_cacheable_prefix(provider: str, model: str, tokens: int) -> None:
    cache = provider_rules(provider).cache
    assert cache is not None and cache.min_prefix_tokens(model) == tokens


def test_claude_cache_multipliers_match_the_bundled_prices() -> None:
    """Anthropic's documented 1.25x (5 min) and 2x (1 h) write prices and 0.1x reads, on its models."""
    registry = PriceRegistry.default(plugins=False)
    cache = PROVIDER_RULES["anthropic"].cache
    assert cache is not None and cache.read_fraction is not None
    for model in ("claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5"):
        sheet = registry.find(model)
        assert sheet is not None
        assert sheet.cache_write_per_mtok == sheet.input_per_mtok * cache.write_multipliers[300]
        assert sheet.cache_write_1h_per_mtok == sheet.input_per_mtok * cache.write_multipliers[3600]
        assert sheet.cached_input_per_mtok == sheet.input_per_mtok * cache.read_fraction


def test_service_tiers_in_the_snapshot_are_offered_by_the_table() -> None:
    """A provider the table knows has flex (batch) rules wherever a bundled model has a flex
    (batch) price, and the documented discount holds for most of its models."""
    source = SnapshotSource(modes=None)
    seen: dict[tuple[str, str], list[bool]] = {}
    for model in source.models():
        sheet, info = source.sheet(model), source.info(model)
        assert sheet is not None and info is not None
        rules = provider_rules(info.provider)
        if not rules.known:
            continue
        for tier in ("flex", "batch"):
            tier_sheet = sheet.for_service_tier(tier)
            if tier_sheet is None:
                continue
            service = rules.flex if tier == "flex" else rules.batch
            assert service is not None, (model, tier)
            if service.price is not None and sheet.input_per_mtok:
                seen.setdefault((rules.provider, tier), []).append(
                    tier_sheet.input_per_mtok == sheet.input_per_mtok * service.price.fraction
                )
    assert seen
    for key, matches in seen.items():
        assert sum(matches) >= 0.8 * len(matches), key


def test_table_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from costroute.providers._table import provider_rules\n"
        "provider_rules('openai')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'litellm', 'tiktoken'})\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_table_is_public_from_costroute_providers() -> None:
    import costroute.providers as providers
    from costroute.providers import _table

    assert set(_table.__all__) <= set(providers.__all__)
    assert providers.provider_rules("anthropic") is _table.provider_rules("anthropic")
