"""Prices per service tier (default, flex, batch, priority): golden costs, the registry's API, and
price records (configuration, price files) that carry them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest

from costroute._errors import ConfigError
from costroute.pricing import (
    SERVICE_TIERS,
    ModelInfo,
    PriceFileSource,
    PriceRegistry,
    PriceSheet,
    PriceTier,
    StaticSource,
    Usage,
    cost_of,
    price_sheet,
    restate,
    usage_from_openai,
)

D = Decimal


def _tier(sheet: PriceSheet, name: str) -> PriceSheet:
    found = sheet.for_service_tier(name)
    assert found is not None, name
    return found


# Prices as litellm's map gives them (1.110), restated by hand so each golden is computed here.
GPT5 = PriceSheet(
    "openai/gpt-5",
    D("1.25"),
    D("10"),
    cached_input_per_mtok=D("0.125"),
    service_tiers=(
        PriceSheet("openai/gpt-5", D("0.625"), D("5"), D("0.0625"), service_tier="flex"),
        PriceSheet("openai/gpt-5", D("0.625"), D("5"), D("0.0625"), service_tier="batch"),
        PriceSheet("openai/gpt-5", D("2.5"), D("20"), D("0.25"), service_tier="priority"),
    ),
)
SONNET = PriceSheet(
    "anthropic/claude-sonnet-4-5",
    D("3"),
    D("15"),
    cached_input_per_mtok=D("0.3"),
    cache_write_per_mtok=D("3.75"),
    cache_write_1h_per_mtok=D("6"),
    service_tiers=(
        # The 1-hour batch write is not in litellm's map: 2 x the batch input (Anthropic's rule).
        PriceSheet(
            "anthropic/claude-sonnet-4-5",
            D("1.5"),
            D("7.5"),
            cached_input_per_mtok=D("0.15"),
            cache_write_per_mtok=D("1.875"),
            cache_write_1h_per_mtok=D("3"),
            service_tier="batch",
        ),
    ),
)
GEMINI_PRO = PriceSheet(
    "gemini/gemini-2.5-pro",
    D("1.25"),
    D("10"),
    cached_input_per_mtok=D("0.125"),
    tiers=(PriceTier(200_000, D("2.5"), D("15"), D("0.25")),),
    service_tiers=(
        PriceSheet(
            "gemini/gemini-2.5-pro",
            D("0.625"),
            D("5"),
            D("0.125"),
            tiers=(PriceTier(200_000, D("1.25"), D("7.5"), D("0.25")),),
            service_tier="flex",
        ),
        PriceSheet(
            "gemini/gemini-2.5-pro",
            D("2.25"),
            D("18"),
            D("0.225"),
            tiers=(PriceTier(200_000, D("4.5"), D("27"), D("0.45")),),
            service_tier="priority",
        ),
    ),
)


# ---------------------------------------------------------------------------------------------
# Golden costs


OPENAI_USAGE = {
    "prompt_tokens": 10_000,
    "completion_tokens": 2000,
    "prompt_tokens_details": {"cached_tokens": 8000},
    "completion_tokens_details": {"reasoning_tokens": 1500},
}


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        # 2000 x 1.25 + 8000 x 0.125 + 2000 x 10 = 2500 + 1000 + 20000
        ("default", D("0.0235")),
        # 2000 x 0.625 + 8000 x 0.0625 + 2000 x 5 = 1250 + 500 + 10000
        ("flex", D("0.01175")),
        ("batch", D("0.01175")),
        # 2000 x 2.5 + 8000 x 0.25 + 2000 x 20 = 5000 + 2000 + 40000
        ("priority", D("0.047")),
    ],
)
def test_openai_cached_usage_at_each_tier(tier: str, expected: Decimal) -> None:
    usage = usage_from_openai(OPENAI_USAGE, "openai")
    assert usage == Usage(input_tokens=2000, output_tokens=500, cache_read_tokens=8000, reasoning_tokens=1500)
    assert cost_of(_tier(GPT5, tier), usage) == expected


def test_anthropic_batch_with_cache_reads_and_both_write_lifetimes() -> None:
    # A Message Batches result carries the Messages API usage block.
    native = {
        "input_tokens": 400,
        "cache_read_input_tokens": 30_000,
        "cache_creation_input_tokens": 12_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 10_000},
        "output_tokens": 1200,
    }
    usage = usage_from_openai(native, "anthropic")
    assert usage == Usage(
        input_tokens=400,
        output_tokens=1200,
        cache_read_tokens=30_000,
        cache_write_tokens=2000,
        cache_write_1h_tokens=10_000,
    )
    # default: 400 x 3 + 30000 x 0.3 + 2000 x 3.75 + 10000 x 6 + 1200 x 15
    #        = 1200 + 9000 + 7500 + 60000 + 18000 = 95700
    assert cost_of(SONNET, usage) == D("0.0957")
    # batch: 400 x 1.5 + 30000 x 0.15 + 2000 x 1.875 + 10000 x 3 + 1200 x 7.5
    #      = 600 + 4500 + 3750 + 30000 + 9000 = 47850, half of the default
    assert cost_of(_tier(SONNET, "batch"), usage) == D("0.04785")
    assert SONNET.for_service_tier("flex") is None and SONNET.for_service_tier("priority") is None


GEMINI_LONG = {
    "promptTokenCount": 300_000,
    "cachedContentTokenCount": 100_000,
    "candidatesTokenCount": 2000,
    "thoughtsTokenCount": 3000,
    "totalTokenCount": 305_000,
}


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        # above 200k: 200000 x 2.5 + 100000 x 0.25 + 5000 x 15 = 500000 + 25000 + 75000
        ("default", D("0.6")),
        # flex above 200k: 200000 x 1.25 + 100000 x 0.25 + 5000 x 7.5 = 250000 + 25000 + 37500
        ("flex", D("0.3125")),
        # priority above 200k: 200000 x 4.5 + 100000 x 0.45 + 5000 x 27 = 900000 + 45000 + 135000
        ("priority", D("1.08")),
    ],
)
def test_gemini_long_context_cached_usage_at_each_tier(tier: str, expected: Decimal) -> None:
    usage = usage_from_openai(GEMINI_LONG, "gemini")
    assert usage == Usage(
        input_tokens=200_000, output_tokens=2000, cache_read_tokens=100_000, reasoning_tokens=3000
    )
    assert cost_of(_tier(GEMINI_PRO, tier), usage) == expected


def test_gemini_short_prompt_at_flex() -> None:
    usage = usage_from_openai(
        {"promptTokenCount": 10_000, "cachedContentTokenCount": 4000, "candidatesTokenCount": 500}, "gemini"
    )
    # 6000 x 0.625 + 4000 x 0.125 + 500 x 5 = 3750 + 500 + 2500
    assert cost_of(_tier(GEMINI_PRO, "flex"), usage) == D("0.00675")
    assert GEMINI_PRO.for_service_tier("batch") is None


# ---------------------------------------------------------------------------------------------
# The registry


def _registry() -> PriceRegistry:
    return PriceRegistry([StaticSource([GPT5, SONNET, PriceSheet("acme/plain", D("1"), D("2"))])])


def test_find_by_service_tier_uses_canonical_names() -> None:
    registry = _registry()
    assert registry.find("GPT-5") is not None
    flex = registry.find("gpt-5", service_tier="flex")
    assert flex is not None and flex.service_tier == "flex" and flex.input_per_mtok == D("0.625")
    assert registry.find("openai/gpt-5", "priority") == _tier(GPT5, "priority")
    assert registry.find("anthropic/claude-sonnet-4-5", "flex") is None
    assert registry.find("no-such-model", "batch") is None
    assert registry.find("gpt-5", "default") is registry.find("gpt-5")


def test_find_names_nested_sheets_canonically() -> None:
    """A source keyed without a prefix: the registry names every tier's sheet ``openai/gpt-5``."""
    bare = replace(GPT5, model="gpt-5", service_tiers=tuple(replace(s, model="gpt-5") for s in GPT5.service_tiers))
    registry = PriceRegistry([StaticSource([bare], [ModelInfo("gpt-5", "openai")])])
    batch = registry.find("gpt-5", service_tier="batch")
    assert batch is not None and batch.model == "openai/gpt-5"
    default = registry.find("gpt-5")
    assert default is not None and {s.model for s in default.service_tiers} == {"openai/gpt-5"}


def test_service_tiers() -> None:
    registry = _registry()
    assert registry.service_tiers("gpt-5") == frozenset(SERVICE_TIERS)
    assert registry.service_tiers("claude-sonnet-4-5") == {"default", "batch"}
    assert registry.service_tiers("acme/plain") == {"default"}
    assert registry.service_tiers("unknown") == frozenset()


def test_unknown_service_tier_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown service tier 'turbo'"):
        _registry().find("gpt-5", service_tier="turbo")
    with pytest.raises(ValueError, match="unknown service tier"):
        _registry().find("no-such-model", service_tier="")
    with pytest.raises(ValueError, match="expected one of default, flex, batch, priority"):
        GPT5.for_service_tier("Flex")


# ---------------------------------------------------------------------------------------------
# Price records: price files and configuration


def test_price_file_with_service_tiers(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "acme/big:\n"
        "  input_per_mtok: 2\n"
        "  output_per_mtok: 8\n"
        "  cache_write_1h_per_mtok: 4\n"
        "  tiers: [{above_input_tokens: 100000, input_per_mtok: 4, output_per_mtok: 16}]\n"
        "  batch:\n"
        "    input_per_mtok: 1\n"
        "    output_per_mtok: 4\n"
        "    cached_input_per_mtok: 0.1\n"
        "    tiers: [{above_input_tokens: 100000, input_per_mtok: 2, output_per_mtok: 8}]\n"
        "  priority: {input_per_mtok: 3.5, output_per_mtok: 14}\n"
        "  mode: chat\n"
    )
    source = PriceFileSource(path)
    sheet = source.sheet("acme/big")
    assert sheet is not None and sheet.cache_write_1h_per_mtok == D("4")
    assert sheet.service_tier_names == {"default", "batch", "priority"}
    batch = _tier(sheet, "batch")
    assert (batch.input_per_mtok, batch.cached_input_per_mtok, batch.source) == (D("1"), D("0.1"), str(path))
    assert batch.tiers == (PriceTier(100_000, D("2"), D("8")),)
    assert _tier(sheet, "priority").tiers == ()  # none given: the tier's own base price
    # 150k prompt in batch: 150000 x 2 + 1000 x 8
    assert cost_of(batch, Usage(input_tokens=150_000, output_tokens=1000)) == D("0.308")
    info = source.info("acme/big")
    assert info is not None and info.mode == "chat"


def test_bad_service_tier_in_price_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text('{"m": {"input_per_mtok": 1, "output_per_mtok": 2, "flex": {"input_per_mtok": -1}}}')
    with pytest.raises(ConfigError) as caught:
        PriceFileSource(path)
    locations = {loc for loc, _ in caught.value.problems}
    assert {f"{path}: m.flex.input_per_mtok", f"{path}: m.flex.output_per_mtok"} <= locations
    path.write_text('{"m": {"input_per_mtok": 1, "output_per_mtok": 2, "turbo": {}}}')
    with pytest.raises(ConfigError, match=r"m\.turbo: unknown key"):
        PriceFileSource(path)


@dataclass(frozen=True)
class _Tier:
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    cache_write_1h_per_mtok: Decimal | None = None


@dataclass(frozen=True)
class _Record(_Tier):
    flex: _Tier | None = None
    batch: _Tier | None = None
    priority: _Tier | None = None


def test_price_sheet_from_a_record() -> None:
    record = _Record(D("2"), D("8"), cache_write_1h_per_mtok=D("4"), batch=_Tier(D("1"), D("4")))
    sheet = price_sheet("acme/m", record, source="config", effective_date="2026-01-01")
    assert sheet == PriceSheet(
        "acme/m",
        D("2"),
        D("8"),
        cache_write_1h_per_mtok=D("4"),
        effective_date="2026-01-01",
        source="config",
        service_tiers=(
            PriceSheet("acme/m", D("1"), D("4"), effective_date="2026-01-01", source="config", service_tier="batch"),
        ),
    )


def test_restating_the_list_price_keeps_known_tiers_and_cache_prices() -> None:
    override = price_sheet("anthropic/claude-sonnet-4-5", _Record(D("3"), D("15")), source="config")
    restated = restate(override, SONNET)
    assert restated.source == "config"
    assert (restated.cache_write_per_mtok, restated.cache_write_1h_per_mtok) == (D("3.75"), D("6"))
    assert restated.service_tiers == SONNET.service_tiers


def test_restating_with_a_tier_of_its_own() -> None:
    """A given tier that restates the known one keeps its cache prices; a new tier is added."""
    record = _Record(D("3"), D("15"), batch=_Tier(D("1.5"), D("7.5")), priority=_Tier(D("6"), D("30")))
    restated = restate(price_sheet("anthropic/claude-sonnet-4-5", record, source="config"), SONNET)
    batch = _tier(restated, "batch")
    assert (batch.cached_input_per_mtok, batch.cache_write_1h_per_mtok) == (D("0.15"), D("3"))
    assert _tier(restated, "priority").input_per_mtok == D("6")
    # A negotiated batch price is taken as given: no cache prices beyond its own.
    cheaper = _Record(D("3"), D("15"), batch=_Tier(D("1"), D("5")))
    negotiated = _tier(restate(price_sheet("anthropic/claude-sonnet-4-5", cheaper), SONNET), "batch")
    assert (negotiated.input_per_mtok, negotiated.cached_input_per_mtok) == (D("1"), None)


def test_a_negotiated_price_has_only_the_tiers_it_names() -> None:
    override = price_sheet("anthropic/claude-sonnet-4-5", _Record(D("2"), D("10")))
    assert restate(override, SONNET) is override
    assert override.service_tiers == () and override.cache_write_1h_per_mtok is None


def test_an_explicit_zero_cache_price_is_kept() -> None:
    override = price_sheet("anthropic/claude-sonnet-4-5", _Record(D("3"), D("15"), cached_input_per_mtok=D("0")))
    assert restate(override, SONNET).cached_input_per_mtok == D("0")


# ---------------------------------------------------------------------------------------------
# The bundled snapshot, through the default registry


@pytest.fixture(scope="module")
def bundled() -> PriceRegistry:
    return PriceRegistry.default(plugins=False)


def test_bundled_one_hour_writes(bundled: PriceRegistry) -> None:
    usage = Usage(output_tokens=1000, cache_write_1h_tokens=20_000)
    assert bundled.cost("claude-sonnet-4-5", usage) == D("0.135")  # 20000 x 6 + 1000 x 15
    batch = bundled.find("anthropic/claude-sonnet-4-5", service_tier="batch")
    assert batch is not None and batch.model == "anthropic/claude-sonnet-4-5"
    assert cost_of(batch, usage) == D("0.0675")  # 20000 x 3 (2 x batch input) + 1000 x 7.5
    assert "by provider rule" in batch.source


def test_bundled_service_tiers(bundled: PriceRegistry) -> None:
    assert bundled.service_tiers("gpt-5") == frozenset(SERVICE_TIERS)
    assert bundled.service_tiers("gpt-4o") == {"default", "batch", "priority"}  # no flex for gpt-4o
    assert bundled.service_tiers("claude-sonnet-4-5") == {"default", "batch"}
    assert bundled.service_tiers("gemini/gemini-2.5-pro") == frozenset(SERVICE_TIERS)
    usage = usage_from_openai(OPENAI_USAGE, "openai")
    for tier in SERVICE_TIERS:
        sheet = bundled.find("openai/gpt-5", service_tier=tier)
        assert sheet is not None
        assert cost_of(sheet, usage) == cost_of(_tier(GPT5, tier), usage), tier
    gemini_usage = usage_from_openai(GEMINI_LONG, "gemini")
    for tier in ("default", "flex", "priority"):
        sheet = bundled.find("gemini/gemini-2.5-pro", service_tier=tier)
        assert sheet is not None
        assert cost_of(sheet, gemini_usage) == cost_of(_tier(GEMINI_PRO, tier), gemini_usage), tier
