"""``costroute prices``: a sortable, filterable price index from the pricing registry."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import typer
from typer.testing import CliRunner

from costroute.cli import app
from costroute.cli._prices import PriceRow, SortKey, _usd, parse_blend, price_rows, sort_rows
from costroute.pricing import ModelInfo, PriceRegistry, PriceSheet, StaticSource


def _prices(runner: CliRunner, *args: str) -> dict:
    result = runner.invoke(app, ["prices", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("key, field", [("input", "input_per_mtok"), ("output", "output_per_mtok"),
                                        ("blended", "blended_per_mtok")])
def test_sorting_by_price_is_cheapest_first(runner: CliRunner, key: str, field: str) -> None:
    rows = _prices(runner, "--sort", key, "--limit", "0")["rows"]
    assert len(rows) > 100
    values = [Decimal(r[field]) for r in rows]
    assert values == sorted(values)
    assert values[0] < values[-1]
    desc = [Decimal(r[field]) for r in _prices(runner, "--sort", key, "--desc", "--limit", "20")["rows"]]
    assert desc == sorted(desc, reverse=True) and desc[0] == values[-1]


def test_sorting_by_name(runner: CliRunner) -> None:
    names = [r["model"] for r in _prices(runner, "--sort", "name", "--provider", "anthropic", "-n", "0")["rows"]]
    assert names == sorted(names, key=str.lower) and len(names) > 3


def test_provider_filter(runner: CliRunner) -> None:
    data = _prices(runner, "--provider", "openai", "--limit", "0")
    rows = data["rows"]
    assert rows and data["total"] == len(rows)
    assert all(r["provider"] == "openai" for r in rows)
    assert {"openai/gpt-4o", "openai/gpt-4o-mini"} <= {r["model"] for r in rows}
    everything = _prices(runner, "--limit", "0")["total"]
    assert len(rows) < everything
    # litellm's sub-provider names ("vertex_ai-anthropic_models") answer to their routing prefix
    vertex = _prices(runner, "--provider", "vertex_ai", "-n", "0")["rows"]
    assert vertex and all(r["model"].startswith("vertex_ai/") for r in vertex)


def test_known_prices_blend_and_search(runner: CliRunner) -> None:
    rows = _prices(runner, "--search", "gpt-4o-mini", "-n", "0")["rows"]
    [row] = [r for r in rows if r["model"] == "openai/gpt-4o-mini"]
    assert (Decimal(row["input_per_mtok"]), Decimal(row["output_per_mtok"])) == (Decimal("0.15"), Decimal("0.6"))
    assert Decimal(row["blended_per_mtok"]) == (3 * Decimal("0.15") + Decimal("0.6")) / 4
    assert row["context_window"] == 128000 and row["source"]
    [even] = [r for r in _prices(runner, "--search", "gpt-4o-mini", "--blend", "1:1", "-n", "0")["rows"]
              if r["model"] == "openai/gpt-4o-mini"]
    assert Decimal(even["blended_per_mtok"]) == Decimal("0.375")
    assert all("claude" in r["model"].lower() for r in _prices(runner, "--search", "CLAUDE")["rows"])


def test_limit(runner: CliRunner) -> None:
    data = _prices(runner, "--limit", "7")
    assert len(data["rows"]) == 7 and data["total"] > 7


def test_table_is_in_sort_order(runner: CliRunner) -> None:
    result = runner.invoke(app, ["prices", "--provider", "openai", "--sort", "input", "--limit", "10"])
    assert result.exit_code == 0, result.output
    expected = [r["model"] for r in _prices(runner, "--provider", "openai", "--sort", "input", "--limit", "10")["rows"]]
    positions = [result.stdout.index(f"│ {m} ") for m in expected]
    assert positions == sorted(positions)
    assert "blended 3:1" in result.stdout and "10 of" in result.stdout


def test_bad_input(runner: CliRunner) -> None:
    assert runner.invoke(app, ["prices", "--blend", "3-1"]).exit_code == 2
    assert runner.invoke(app, ["prices", "--sort", "cheapest"]).exit_code == 2
    none = runner.invoke(app, ["prices", "--provider", "no-such-provider"])
    assert none.exit_code == 1 and "no priced model matches" in none.output


def test_parse_blend() -> None:
    assert parse_blend("3:1") == (Decimal(3), Decimal(1))
    assert parse_blend("1:0") == (Decimal(1), Decimal(0))
    for bad in ("3", "a:b", "0:0", "-1:2", "1:2:3", "inf:1"):
        with pytest.raises(typer.BadParameter):
            parse_blend(bad)


def _registry() -> PriceRegistry:
    sheets = [PriceSheet("acme/b", Decimal("1"), Decimal("1"), source="https://acme.example/prices"),
              PriceSheet("acme/a", Decimal("2"), Decimal("0"), source="manual"),
              PriceSheet("zeta/c", Decimal("0.5"), Decimal("4")),
              PriceSheet("zeta/free", Decimal("0"), Decimal("0"))]
    infos = [ModelInfo("acme/a", provider="acme", max_input_tokens=8000), ModelInfo("zeta/c", provider="zeta")]
    return PriceRegistry([StaticSource(sheets, infos)])


def test_rows_and_sorting_are_pure() -> None:
    rows = price_rows(_registry())
    assert [r.model for r in rows] == ["acme/a", "acme/b", "zeta/c"]  # the $0 model is left out
    assert [r.model for r in price_rows(_registry(), include_free=True)][-1] == "zeta/free"
    by = {r.model: r for r in rows}
    assert by["acme/a"].blended_per_mtok == Decimal("1.5") and by["acme/a"].context_window == 8000
    assert by["zeta/c"].blended_per_mtok == Decimal("1.375")

    def names(key: SortKey) -> list[str]:
        return [r.model for r in sort_rows(rows, key)]

    assert names(SortKey.input) == ["zeta/c", "acme/b", "acme/a"]
    assert names(SortKey.output) == ["acme/a", "acme/b", "zeta/c"]
    assert names(SortKey.blended) == ["acme/b", "zeta/c", "acme/a"]
    assert names(SortKey.name) == ["acme/a", "acme/b", "zeta/c"]
    assert [r.model for r in price_rows(_registry(), provider="zeta")] == ["zeta/c"]
    assert [r.model for r in price_rows(_registry(), search="/B")] == ["acme/b"]
    assert isinstance(rows[0], PriceRow) and rows[0].to_dict()["input_per_mtok"] == "2"


# ---------------------------------------------------------------------------------------------
# Modes, service tiers, cache prices, small amounts


def test_chat_models_only_by_default(runner: CliRunner) -> None:
    """litellm labels some embedding, image and speech models chat; they are not listed as chat."""
    for needle in ("embed", "flux", "tts", "lyria"):
        result = runner.invoke(app, ["prices", "--search", needle])
        assert result.exit_code == 1 and "no priced model matches" in result.output, needle
    rows = _prices(runner, "--limit", "0")["rows"]
    assert rows and all(r["mode"] == "chat" for r in rows)


def test_other_modes(runner: CliRunner) -> None:
    embedding = _prices(runner, "--mode", "embedding", "-n", "0")
    assert embedding["mode"] == "embedding" and embedding["total"] > 50
    assert all(r["mode"] == "embedding" for r in embedding["rows"])
    names = {r["model"] for r in embedding["rows"]}
    assert {"openai/text-embedding-3-small", "vercel_ai_gateway/cohere/embed-v4.0"} <= names
    images = {r["model"] for r in _prices(runner, "--mode", "image_generation", "--search", "flux", "-n", "0")["rows"]}
    assert "fireworks_ai/accounts/fireworks/models/flux-1-dev" in images
    chat_total = _prices(runner, "-n", "1")["total"]
    everything = _prices(runner, "--mode", "all", "-n", "0")
    assert everything["total"] > chat_total + embedding["total"] - 1
    assert {r["mode"] for r in everything["rows"]} >= {"chat", "embedding", "responses"}
    bad = runner.invoke(app, ["prices", "--mode", "embeddings"])
    assert bad.exit_code == 2 and "unknown mode 'embeddings'" in bad.output


@pytest.mark.parametrize(("tier", "input_price"), [("flex", "0.625"), ("batch", "0.625"), ("priority", "2.5")])
def test_service_tier_prices(runner: CliRunner, tier: str, input_price: str) -> None:
    data = _prices(runner, "--tier", tier, "--provider", "openai", "-n", "0")
    assert data["service_tier"] == tier and data["rows"]
    assert all(r["service_tier"] == tier and tier in r["service_tiers"] for r in data["rows"])
    [gpt5] = [r for r in data["rows"] if r["model"] == "openai/gpt-5"]
    assert Decimal(gpt5["input_per_mtok"]) == Decimal(input_price)
    assert data["total"] < _prices(runner, "--provider", "openai", "-n", "1")["total"]


def test_models_without_the_tier_are_left_out(runner: CliRunner) -> None:
    flex = {r["model"] for r in _prices(runner, "--tier", "flex", "--search", "gpt-", "-n", "0")["rows"]}
    assert "openai/gpt-5" in flex and "openai/gpt-4o" not in flex  # gpt-4o has no flex price
    batch = {r["model"] for r in _prices(runner, "--tier", "batch", "--search", "gpt-4o", "-n", "0")["rows"]}
    assert "openai/gpt-4o" in batch
    none = runner.invoke(app, ["prices", "--tier", "flex", "--provider", "anthropic"])
    assert none.exit_code == 1 and "the flex tier" in none.output
    assert runner.invoke(app, ["prices", "--tier", "turbo"]).exit_code == 2


def test_cache_prices(runner: CliRunner) -> None:
    [sonnet] = [r for r in _prices(runner, "--search", "claude-sonnet-4-5", "-n", "0")["rows"]
                if r["model"] == "anthropic/claude-sonnet-4-5"]
    assert (sonnet["cached_input_per_mtok"], sonnet["cache_write_per_mtok"], sonnet["cache_write_1h_per_mtok"]) == (
        "0.3", "3.75", "6")
    assert sonnet["service_tiers"] == ["default", "batch"]
    [batch] = _prices(runner, "--search", "anthropic/claude-sonnet-4-5", "--tier", "batch", "-n", "1")["rows"]
    assert batch["cache_write_1h_per_mtok"] == "3" and "by provider rule" in batch["source"]
    table = runner.invoke(app, ["prices", "--search", "anthropic/claude-sonnet-4-5", "--cache", "-n", "1"],
                          env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "cached" in table.stdout and "write 5m" in table.stdout and "write 1h" in table.stdout
    line = next(row for row in table.stdout.splitlines() if "claude-sonnet-4-5 " in row)
    assert "$0.30" in line and "$3.75" in line and "$6.00" in line and "batch" in line
    plain = runner.invoke(app, ["prices", "--search", "anthropic/claude-sonnet-4-5", "-n", "1"], env={"COLUMNS": "250"})
    assert "write 1h" not in plain.stdout


@pytest.mark.parametrize(
    ("value", "text"),
    [("2.5", "$2.50"), ("0", "$0.00"), ("1.23456", "$1.2346"), ("0.0485", "$0.0485"), ("0.001", "$0.001"),
     ("0.0000125", "$0.0000125"), ("0.000123456", "$0.000123"), ("0.01", "$0.01"), ("1000", "$1000.00")],
)
def test_amounts_below_a_cent_keep_their_digits(value: str, text: str) -> None:
    assert _usd(Decimal(value)) == text


def test_small_prices_in_the_table(runner: CliRunner) -> None:
    result = runner.invoke(app, ["prices", "--mode", "all", "--search", "flux-1-dev-controlnet", "-n", "1"],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "$0.001" in result.stdout  # $0.001 per million tokens, not $0.00


def test_rows_per_mode_and_tier_are_pure() -> None:
    sheets = [PriceSheet("acme/chat", Decimal("1"), Decimal("2"),
                         service_tiers=(PriceSheet("acme/chat", Decimal("0.5"), Decimal("1"), service_tier="batch"),)),
              PriceSheet("acme/embed", Decimal("0.1"), Decimal("0")),
              PriceSheet("acme/unknown-mode", Decimal("3"), Decimal("3"))]
    infos = [ModelInfo("acme/chat", provider="acme", mode="chat"), ModelInfo("acme/embed", provider="acme",
                                                                            mode="embedding")]
    registry = PriceRegistry([StaticSource(sheets, infos)])
    assert [r.model for r in price_rows(registry)] == ["acme/chat", "acme/unknown-mode"]  # no mode: chat
    assert [r.model for r in price_rows(registry, mode="embedding")] == ["acme/embed"]
    assert len(price_rows(registry, mode="all")) == 3
    [batch] = price_rows(registry, service_tier="batch")
    assert (batch.model, batch.service_tier, batch.input_per_mtok, batch.blended_per_mtok) == (
        "acme/chat", "batch", Decimal("0.5"), Decimal("0.625"))
    assert batch.service_tiers == ("default", "batch")
    assert batch.to_dict()["service_tiers"] == ["default", "batch"] and batch.to_dict()["cached_input_per_mtok"] is None


def test_narrow_terminals_keep_the_prices(runner: CliRunner) -> None:
    """Optional columns go first (as of, source, tiers, context, provider), never a price."""
    wide = runner.invoke(app, ["prices", "-p", "openai", "-n", "3", "--cache"], env={"COLUMNS": "250"})
    narrow = runner.invoke(app, ["prices", "-p", "openai", "-n", "3", "--cache"], env={"COLUMNS": "80"})
    assert wide.exit_code == narrow.exit_code == 0
    for header in ("input", "output", "blended 3:1", "cached", "write 5m", "write 1h"):
        assert header in narrow.stdout, header
    assert "context" in wide.stdout and "context" not in narrow.stdout
    assert all(len(line) <= 80 for line in narrow.stdout.splitlines())
    assert "openai/gpt-5" in narrow.stdout
