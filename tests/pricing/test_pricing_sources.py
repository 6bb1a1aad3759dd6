"""PricingSource implementations: static, price files, the bundled snapshot and plug-ins."""

from __future__ import annotations

import gzip
import importlib.util
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from costroute._errors import ConfigError
from costroute.pricing import (
    ModelInfo,
    PriceFileSource,
    PriceSheet,
    PricingSource,
    SnapshotSource,
    StaticSource,
    _sources,
    entry_point_sources,
)

D = Decimal
SNAPSHOT = Path(_sources.__file__).with_name("snapshot.json.gz")


# ---------------------------------------------------------------------------------------------
# StaticSource


def test_static_source_matches_case_insensitively() -> None:
    sheet = PriceSheet("My-Model", D("1"), D("2"))
    source = StaticSource([sheet], [ModelInfo("My-Model", provider="acme")])
    assert isinstance(source, PricingSource)
    assert source.sheet("my-model") is sheet
    assert source.info("MY-MODEL") == ModelInfo("My-Model", provider="acme")
    assert source.sheet("other") is None
    assert list(source.models()) == ["My-Model"]


# ---------------------------------------------------------------------------------------------
# Price files


def test_yaml_price_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "gpt-4o:\n"
        "  input_per_mtok: 2.50\n"
        "  output_per_mtok: 10\n"
        "  cached_input_per_mtok: 1.25\n"
        "  max_input_tokens: 128000\n"
        "  supports_tools: true\n"
        "gemini-x:\n"
        "  input_per_mtok: 0.1\n"
        "  output_per_mtok: 0.4\n"
        "  tiers:\n"
        "    - {above_input_tokens: 200000, input_per_mtok: 0.2, output_per_mtok: 0.8}\n"
    )
    source = PriceFileSource(path)
    sheet = source.sheet("GPT-4o")
    assert sheet is not None
    assert (sheet.input_per_mtok, sheet.output_per_mtok, sheet.cached_input_per_mtok) == (
        D("2.5"),
        D("10"),
        D("1.25"),
    )
    assert sheet.source == str(path)
    info = source.info("gpt-4o")
    assert info is not None and info.max_input_tokens == 128000 and info.supports_tools is True
    gemini = source.sheet("gemini-x")
    assert gemini is not None and gemini.tiers[0].input_per_mtok == D("0.2")
    assert gemini.input_per_mtok == D("0.1")  # exact, no float noise


def test_json_price_file_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"m": {"input_per_mtok": 0.1, "output_per_mtok": "0.3"}}))
    sheet = PriceFileSource(path).sheet("m")
    assert sheet is not None
    assert (sheet.input_per_mtok, sheet.output_per_mtok) == (D("0.1"), D("0.3"))


@pytest.mark.parametrize(
    ("body", "key_path"),
    [
        ('{"gpt-4o": {"input_per_mtok": -1, "output_per_mtok": 10}}', "gpt-4o.input_per_mtok"),
        ('{"gpt-4o": {"input_per_mtok": 1}}', "gpt-4o.output_per_mtok"),
        ('{"gpt-4o": {"input_per_mtok": 1, "output_per_mtok": 2, "ouput": 3}}', "gpt-4o.ouput"),
        ('{"gpt-4o": 3}', "gpt-4o"),
        (
            '{"m": {"input_per_mtok": 1, "output_per_mtok": 2,'
            ' "tiers": [{"above_input_tokens": 5}]}}',
            "m.tiers[0].input_per_mtok",
        ),
        ('{"m": {"input_per_mtok": "cheap", "output_per_mtok": 2}}', "m.input_per_mtok"),
    ],
)
def test_bad_price_file_names_file_and_key(tmp_path: Path, body: str, key_path: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(body)
    with pytest.raises(ConfigError) as caught:
        PriceFileSource(path)
    message = str(caught.value)
    assert str(path) in message
    assert key_path in message
    assert any(loc == f"{path}: {key_path}" for loc, _ in caught.value.problems)


@pytest.mark.parametrize(
    ("name", "body", "needle"),
    [
        ("p.yaml", "gpt-4o: [unclosed", "not valid YAML"),
        ("p.json", "{nope", "not valid JSON"),
        ("p.json", "[1, 2]", "must map model names"),
        ("p.toml", "", "unsupported format"),
    ],
)
def test_unreadable_price_files(tmp_path: Path, name: str, body: str, needle: str) -> None:
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(ConfigError, match=needle) as caught:
        PriceFileSource(path)
    assert str(path) in str(caught.value)


def test_missing_price_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read price file"):
        PriceFileSource(tmp_path / "absent.yaml")


# ---------------------------------------------------------------------------------------------
# The bundled snapshot


def test_snapshot_is_small_and_has_a_header() -> None:
    assert SNAPSHOT.stat().st_size < 400 * 1024
    source = SnapshotSource()
    header = source.header
    assert header["built_from"].startswith("litellm ")
    assert header["built_at"]
    assert len(list(source.models())) > 1000


def test_snapshot_loads_without_importing_litellm() -> None:
    code = (
        "import sys\n"
        "from costroute.pricing import PriceRegistry, SnapshotSource\n"
        "assert SnapshotSource().sheet('gpt-4o') is not None\n"
        "assert PriceRegistry.default(plugins=False).find('openai/gpt-4o') is not None\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'litellm', 'tiktoken'})\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_snapshot_parsed_once_per_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = gzip.decompress

    def counting(data: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return real(data)

    monkeypatch.setattr("costroute.pricing._sources.gzip.decompress", counting)
    source = SnapshotSource()
    assert calls == 0  # lazy
    source.sheet("gpt-4o")
    source.info("gpt-4o")
    list(source.models())
    assert calls == 1


def _litellm_price_map() -> dict[str, Any]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("litellm not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    built_from = SnapshotSource().header["built_from"]
    if built_from != f"litellm {version('litellm')}":
        pytest.skip(f"snapshot built from {built_from}, installed litellm is {version('litellm')}")
    data: dict[str, Any] = json.loads(
        (folder / "model_prices_and_context_window_backup.json").read_text()
    )
    return data


def _per_mtok(value: float) -> Decimal:
    return Decimal(repr(value)).scaleb(6)


@pytest.mark.parametrize(
    "model",
    ["gpt-4o", "gpt-4o-mini", "gpt-5", "o3", "claude-sonnet-4-5", "gemini/gemini-2.5-pro", "gemini/gemini-2.5-flash"],
)
def test_snapshot_matches_litellm(model: str) -> None:
    raw = _litellm_price_map()[model]
    sheet = SnapshotSource().sheet(model)
    assert sheet is not None
    assert sheet.input_per_mtok == _per_mtok(raw["input_cost_per_token"])
    assert sheet.output_per_mtok == _per_mtok(raw["output_cost_per_token"])
    if "cache_read_input_token_cost" in raw:
        assert sheet.cached_input_per_mtok == _per_mtok(raw["cache_read_input_token_cost"])
    if "input_cost_per_token_above_200k_tokens" in raw:
        (tier,) = sheet.tiers
        assert tier.above_input_tokens == 200_000
        assert tier.input_per_mtok == _per_mtok(raw["input_cost_per_token_above_200k_tokens"])
        assert tier.output_per_mtok == _per_mtok(raw["output_cost_per_token_above_200k_tokens"])
    if "cache_creation_input_token_cost_above_1hr" in raw:
        assert sheet.cache_write_1h_per_mtok == _per_mtok(raw["cache_creation_input_token_cost_above_1hr"])
    for tier, suffix in (("flex", "_flex"), ("batch", "_batches"), ("priority", "_priority")):
        priced = f"input_cost_per_token{suffix}" in raw and f"output_cost_per_token{suffix}" in raw
        tier_sheet = sheet.for_service_tier(tier)
        assert (tier_sheet is not None) == priced, tier
        if tier_sheet is not None:
            assert tier_sheet.input_per_mtok == _per_mtok(raw[f"input_cost_per_token{suffix}"])
            assert tier_sheet.output_per_mtok == _per_mtok(raw[f"output_cost_per_token{suffix}"])
            if f"cache_read_input_token_cost{suffix}" in raw:
                assert tier_sheet.cached_input_per_mtok == _per_mtok(raw[f"cache_read_input_token_cost{suffix}"])
    info = SnapshotSource().info(model)
    assert info is not None
    assert info.provider == raw["litellm_provider"]
    assert info.max_input_tokens == raw["max_input_tokens"]
    assert info.supports_tools == raw.get("supports_function_calling")


def test_gpt_4o_in_snapshot() -> None:
    sheet = SnapshotSource().sheet("gpt-4o")
    assert sheet is not None
    assert (sheet.input_per_mtok, sheet.output_per_mtok, sheet.cached_input_per_mtok) == (
        D("2.5"),
        D("10"),
        D("1.25"),
    )
    assert sheet.effective_date


def test_snapshot_source_reads_a_given_file(tmp_path: Path) -> None:
    path = tmp_path / "snap.json.gz"
    doc = {
        "version": 1,
        "built_from": "litellm 0.0.1",
        "built_at": "2025-01-01",
        "models": {
            "x/m": {
                "provider": "x",
                "input": "1",
                "output": "2",
                "tiers": [[10, "3", "4", None, None]],
            }
        },
    }
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    source = SnapshotSource(path)
    sheet = source.sheet("X/M")
    assert sheet is not None and sheet.tiers[0].output_per_mtok == D("4")
    assert sheet.cached_input_per_mtok is None
    assert source.info("x/m") == ModelInfo("x/m", provider="x", mode="chat")  # format 1 has only chat


def test_snapshot_format_2_with_service_tiers_and_modes(tmp_path: Path) -> None:
    path = tmp_path / "snap.json.gz"
    doc = {
        "version": 2,
        "built_from": "litellm 0.0.2",
        "built_at": "2026-01-01",
        "effective_date": "2026-01-01 (litellm 0.0.2)",
        "models": {
            "x/m": {
                "provider": "x",
                "input": "2",
                "output": "8",
                "cache_write_1h": "4",
                "tiers": [[100, "3", "9", None, None, "6"]],
                "service_tiers": {
                    "batch": {"input": "1", "output": "4", "cache_write_1h": "2", "derived": ["cache_write_1h"]},
                    "flex": {"input": "1", "output": "4", "tiers": [[100, "1.5", "4.5", None, None, None]]},
                },
            },
            "x/embed": {"provider": "x", "input": "0.1", "output": "0", "mode": "embedding"},
        },
    }
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    chat = SnapshotSource(path)
    assert chat.models() == ["x/m"] and chat.sheet("x/embed") is None and chat.info("x/embed") is None
    sheet = chat.sheet("x/m")
    assert sheet is not None
    assert sheet.tiers[0].cache_write_1h_per_mtok == D("6")
    assert sheet.service_tier_names == {"default", "flex", "batch"}
    batch = sheet.for_service_tier("batch")
    assert batch is not None and batch.cache_write_1h_per_mtok == D("2")
    assert batch.source == "litellm 0.0.2 (batch: cache_write_1h by provider rule)"
    flex = sheet.for_service_tier("flex")
    assert flex is not None and flex.tiers[0].input_per_mtok == D("1.5") and flex.source == "litellm 0.0.2"
    everything = SnapshotSource(path, modes=None)
    assert sorted(everything.models()) == ["x/embed", "x/m"]
    info = everything.info("x/embed")
    assert info is not None and info.mode == "embedding"
    assert SnapshotSource(path, modes=["embedding"]).models() == ["x/embed"]


def test_bundled_snapshot_modes() -> None:
    """Chat by default; models litellm mislabels as chat are under their real mode."""
    chat = SnapshotSource()
    everything = SnapshotSource(modes=None)
    assert len(everything.models()) > len(chat.models()) > 1000
    for model, mode in [
        ("vercel_ai_gateway/cohere/embed-v4.0", "embedding"),
        ("fireworks_ai/accounts/fireworks/models/flux-1-dev", "image_generation"),
        ("gemini/gemini-2.5-pro-preview-tts", "audio_speech"),
        ("text-embedding-3-small", "embedding"),
    ]:
        assert chat.sheet(model) is None, model
        info = everything.info(model)
        assert info is not None and info.mode == mode, model
    info = chat.info("gpt-4o")
    assert info is not None and info.mode == "chat"


# ---------------------------------------------------------------------------------------------
# Plug-ins


@dataclass
class FakeEntryPoint:
    name: str
    value: str
    target: Callable[[], Any]

    def load(self) -> Callable[[], Any]:
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


class PluginSource(StaticSource):
    def __init__(self) -> None:
        super().__init__([PriceSheet("plugged", D("1"), D("1"))], name="plugin")


def _broken_factory() -> PricingSource:
    raise RuntimeError("boom")


def test_entry_point_discovery(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    eps = [
        FakeEntryPoint("good", "pkg:PluginSource", PluginSource),
        FakeEntryPoint("raises", "pkg:broken", _broken_factory),
        FakeEntryPoint("missing", "pkg:gone", ImportError("no module pkg")),  # type: ignore[arg-type]
        FakeEntryPoint("wrong", "pkg:not_a_source", lambda: 42),
    ]
    seen_groups: list[str] = []

    def fake_entry_points(*, group: str) -> list[FakeEntryPoint]:
        seen_groups.append(group)
        return eps

    monkeypatch.setattr(
        "costroute.pricing._sources.importlib.metadata.entry_points", fake_entry_points
    )
    with caplog.at_level(logging.ERROR, logger="costroute.pricing"):
        sources = entry_point_sources()
    assert seen_groups == ["costroute.pricing"]
    assert [s.name for s in sources] == ["plugin"]
    logged = caplog.text
    assert "'raises'" in logged and "'missing'" in logged and "'wrong'" in logged
    assert all(r.name == "costroute.pricing" for r in caplog.records)
