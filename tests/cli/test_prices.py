"""``costroute prices``: a sortable, filterable price index from the pricing registry."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import typer
from typer.testing import CliRunner

from costroute.cli import app
from costroute.cli._prices import PriceRow, SortKey, parse_blend, price_rows, sort_rows
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
