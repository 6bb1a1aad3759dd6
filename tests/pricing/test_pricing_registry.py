"""PriceRegistry: alias normalisation, source priority, unknown models, the default chain."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from costroute._errors import UnknownModelPriceError
from costroute.pricing import (
    ModelInfo,
    PriceFileSource,
    PriceRegistry,
    PriceSheet,
    SnapshotSource,
    StaticSource,
    Usage,
    _registry,
    _sources,
)

D = Decimal


def _sheet(model: str, price: str) -> PriceSheet:
    return PriceSheet(model, D(price), D(price))


# A stand-in for the snapshot: litellm-style keys, bare for OpenAI/Anthropic, prefixed for others.
FAKE_SNAPSHOT = StaticSource(
    [
        _sheet("gpt-4o", "2.5"),
        _sheet("azure/gpt-4o", "2.6"),
        _sheet("claude-3-5-sonnet-20241022", "3"),
        _sheet("gemini/gemini-2.5-pro", "1.25"),
        _sheet("gemini-2.5-pro", "1.3"),
        _sheet("deepseek/deepseek-chat", "0.28"),
        _sheet("mistral/mistral-large-latest", "2"),
    ],
    [
        ModelInfo("gpt-4o", provider="openai", max_input_tokens=128_000, supports_tools=True),
        ModelInfo("azure/gpt-4o", provider="azure"),
        ModelInfo("claude-3-5-sonnet-20241022", provider="anthropic"),
        ModelInfo("gemini/gemini-2.5-pro", provider="gemini"),
        ModelInfo("gemini-2.5-pro", provider="vertex_ai-language-models"),
        ModelInfo("deepseek/deepseek-chat", provider="deepseek"),
    ],
    name="snapshot",
)


@pytest.fixture
def registry() -> PriceRegistry:
    return PriceRegistry([FAKE_SNAPSHOT])


@pytest.mark.parametrize(
    ("names", "canonical"),
    [
        (["gpt-4o", "openai/gpt-4o", "GPT-4o", " OpenAI/GPT-4O "], "openai/gpt-4o"),
        (
            ["claude-3-5-sonnet-20241022", "anthropic/claude-3-5-sonnet-20241022"],
            "anthropic/claude-3-5-sonnet-20241022",
        ),
        (["gemini/gemini-2.5-pro", "Gemini/Gemini-2.5-Pro"], "gemini/gemini-2.5-pro"),
        (["gemini-2.5-pro", "vertex_ai/gemini-2.5-pro"], "vertex_ai/gemini-2.5-pro"),
        (["deepseek-chat", "deepseek/deepseek-chat"], "deepseek/deepseek-chat"),
        (["mistral-large-latest", "mistral/mistral-large-latest"], "mistral/mistral-large-latest"),
        (["azure/gpt-4o"], "azure/gpt-4o"),
    ],
)
def test_aliases_share_one_canonical_name_and_price(
    registry: PriceRegistry, names: list[str], canonical: str
) -> None:
    assert {registry.canonical(n) for n in names} == {canonical}
    sheets = {registry.sheet(n) for n in names}
    assert len(sheets) == 1
    assert sheets.pop().model == canonical


def test_prefix_of_another_provider_does_not_borrow_a_price(registry: PriceRegistry) -> None:
    assert registry.find("bedrock/gpt-4o") is None
    assert registry.sheet("azure/gpt-4o").input_per_mtok == D("2.6")
    assert registry.canonical("openrouter/unknown-model") == "openrouter/unknown-model"


def test_unknown_prefix_with_providerless_key_matches() -> None:
    registry = PriceRegistry([StaticSource([_sheet("my-model", "1")])])
    assert registry.sheet("openrouter/my-model").input_per_mtok == D("1")
    assert registry.canonical("my-model") == "my-model"


def test_unknown_model_suggests_close_matches(registry: PriceRegistry) -> None:
    with pytest.raises(UnknownModelPriceError) as caught:
        registry.sheet("gpt-4oo")
    assert caught.value.model == "gpt-4oo"
    assert "openai/gpt-4o" in str(caught.value)
    assert registry.find("gpt-4oo") is None
    assert registry.info("gpt-4oo") is None
    with pytest.raises(UnknownModelPriceError):
        registry.cost("nope", Usage(input_tokens=1))


def test_sources_in_priority_order(tmp_path: Path) -> None:
    price_file = tmp_path / "prices.yaml"
    price_file.write_text(
        "openai/gpt-4o: {input_per_mtok: 2, output_per_mtok: 2}\n"
        "gemini/gemini-2.5-pro: {input_per_mtok: 1, output_per_mtok: 1}\n"
    )
    config = StaticSource([_sheet("gpt-4o", "1.5")], name="config")
    registry = PriceRegistry([config, PriceFileSource(price_file), FAKE_SNAPSHOT])
    # The config override (keyed without prefix) beats the file (keyed with it) for either spelling.
    assert registry.sheet("openai/gpt-4o").input_per_mtok == D("1.5")
    assert registry.sheet("gpt-4o").input_per_mtok == D("1.5")
    assert registry.sheet("gemini/gemini-2.5-pro").input_per_mtok == D("1")
    assert registry.sheet("deepseek-chat").input_per_mtok == D("0.28")
    # A price without capabilities leaves them to lower sources.
    info = registry.info("gpt-4o")
    assert info is not None and info.max_input_tokens == 128_000 and info.model == "openai/gpt-4o"


def test_info_merges_unknown_fields() -> None:
    top = StaticSource(infos=[ModelInfo("gpt-4o", max_input_tokens=64_000, supports_tools=None)])
    registry = PriceRegistry([top, FAKE_SNAPSHOT])
    info = registry.info("openai/gpt-4o")
    assert info == ModelInfo(
        "openai/gpt-4o", provider="openai", max_input_tokens=64_000, supports_tools=True
    )


def test_cost_and_models(registry: PriceRegistry) -> None:
    assert registry.cost("gpt-4o", Usage(input_tokens=1_000_000, output_tokens=2)) == D("2.500005")
    models = registry.models()
    assert models == sorted(models)
    assert "openai/gpt-4o" in models and "deepseek/deepseek-chat" in models


def test_lookups_are_memoised(registry: PriceRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    first = registry.sheet("gpt-4o")

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("not memoised")

    monkeypatch.setattr(registry, "_locate", fail)
    monkeypatch.setattr(registry, "_compute_canonical", fail)
    assert registry.sheet("gpt-4o") is first
    assert registry.canonical("gpt-4o") == "openai/gpt-4o"


def test_memo_tables_are_bounded(registry: PriceRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_registry, "_MEMO_LIMIT", 10)
    for i in range(50):
        registry.find(f"model-{i}")
    assert len(registry._sheets) <= 10


def test_default_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    price_file = tmp_path / "prices.json"
    price_file.write_text('{"gpt-4o": {"input_per_mtok": 3, "output_per_mtok": 3}}')
    plugin = StaticSource([_sheet("plugged-model", "7")], name="plugin")
    monkeypatch.setattr(_registry, "entry_point_sources", lambda: [plugin])
    registry = PriceRegistry.default(
        overrides={"claude-3-5-sonnet-20241022": _sheet("claude-3-5-sonnet-20241022", "9")},
        files=[price_file],
        snapshot=FAKE_SNAPSHOT,
    )
    assert [getattr(s, "name", "") for s in registry.sources] == [
        "config",
        f"file:{price_file}",
        "plugin",
        "snapshot",
    ]
    assert registry.sheet("anthropic/claude-3-5-sonnet-20241022").input_per_mtok == D("9")
    assert registry.sheet("openai/gpt-4o").input_per_mtok == D("3")
    assert registry.sheet("plugged-model").input_per_mtok == D("7")

    bare = PriceRegistry.default(plugins=False)
    assert len(bare.sources) == 1 and isinstance(bare.sources[0], SnapshotSource)


def test_real_snapshot_aliases() -> None:
    registry = PriceRegistry([SnapshotSource()])
    assert registry.canonical("gpt-4o") == registry.canonical("openai/gpt-4o") == "openai/gpt-4o"
    assert registry.sheet("GPT-4o") == registry.sheet("openai/gpt-4o")
    assert registry.canonical("claude-sonnet-4-5") == "anthropic/claude-sonnet-4-5"
    assert registry.sheet("anthropic/claude-sonnet-4-5").cache_write_per_mtok is not None
    assert registry.find("deepseek-chat") is not None


def test_sources_satisfy_protocol() -> None:
    assert isinstance(SnapshotSource(), _sources.PricingSource)
    assert isinstance(FAKE_SNAPSHOT, _sources.PricingSource)
