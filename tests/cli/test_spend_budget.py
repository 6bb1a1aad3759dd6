"""``costroute spend`` and ``budget``: $COSTROUTE_CONFIG is honoured like ``route`` and ``Client()``,
and amounts below a cent keep their digits."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costroute.cli import app
from costroute.cli._console import usd, usd_column
from costroute.spend import BudgetConfig, Budgets, SpendRecord, SQLiteBudgetStore, SQLiteLedger


def _record(i: int, cost: str, **extra: object) -> SpendRecord:
    return SpendRecord(request_id=f"r{i}", attempt=1, ts=datetime.now(timezone.utc), model="openai/gpt-4o-mini",
                       provider="openai", status="ok", cost_usd=Decimal(cost), baseline_cost_usd=Decimal(cost) * 10,
                       saved_usd=Decimal(cost) * 9, **extra)  # type: ignore[arg-type]


@pytest.fixture()
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config with its own ledger and budget files, named only by $COSTROUTE_CONFIG."""
    ledger = SQLiteLedger(tmp_path / "mine.sqlite3")
    ledger.append_many([_record(1, "0.000155", tags={"user": "ann"}), _record(2, "0.000041", tags={"user": "bo"})])
    ledger.close()
    config = tmp_path / "costroute.yaml"
    config.write_text(
        f"ledger: {{backend: sqlite, path: {tmp_path / 'mine.sqlite3'}}}\n"
        f"budget_store: {{backend: sqlite, path: {tmp_path / 'mine-budgets.sqlite3'}}}\n"
        "budgets:\n  - {name: tiny, limit_usd: 0.01, period: month}\n"
    )
    monkeypatch.setenv("COSTROUTE_CONFIG", str(config))
    monkeypatch.setenv("COSTROUTE_HOME", str(tmp_path / "home"))  # the defaults would live here
    monkeypatch.delenv("COLUMNS", raising=False)
    return tmp_path


def test_spend_reads_the_ledger_of_costroute_config(runner: CliRunner, configured: Path) -> None:
    result = runner.invoke(app, ["spend", "--format", "json", "--by", "tag:user"])
    assert result.exit_code == 0, result.output
    rows = {r["tag:user"]: r for r in json.loads(result.stdout)}
    assert rows["ann"]["cost_usd"] == "0.000155" and rows["bo"]["cost_usd"] == "0.000041"
    assert not (configured / "home").exists()  # the default ledger was neither read nor created


def test_spend_table_shows_sub_cent_amounts(runner: CliRunner, configured: Path) -> None:
    result = runner.invoke(app, ["spend", "--by", "tag:user"])
    assert result.exit_code == 0, result.output
    assert "$0.000155" in result.stdout and "$0.000041" in result.stdout
    assert "$0.00155" in result.stdout and "$0.00041" in result.stdout  # the baseline column, exact
    assert "$0.00 " not in result.stdout


def test_an_explicit_config_wins_over_costroute_config(runner: CliRunner, configured: Path) -> None:
    other = configured / "other.yaml"
    other.write_text(f"ledger: {{backend: sqlite, path: {configured / 'other.sqlite3'}}}\n")
    SQLiteLedger(configured / "other.sqlite3").close()
    result = runner.invoke(app, ["spend", "--config", str(other), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_budget_reads_the_budgets_of_costroute_config_with_sub_cent_amounts(
        runner: CliRunner, configured: Path) -> None:
    store = SQLiteBudgetStore(configured / "mine-budgets.sqlite3")
    Budgets([BudgetConfig(name="tiny", limit_usd=Decimal("0.01"))], store).reserve(
        request_id="a", amount=Decimal("0.000155")).settle(Decimal("0.000155"))
    store.close()
    data = runner.invoke(app, ["budget", "--format", "json"])
    assert data.exit_code == 0, data.output
    [row] = json.loads(data.stdout)
    assert (row["budget"], row["spent"], row["remaining"]) == ("tiny", "0.000155", "0.009845")
    table = runner.invoke(app, ["budget"])
    assert table.exit_code == 0, table.output
    assert "tiny" in table.stdout and "$0.000155" in table.stdout and "$0.009845" in table.stdout


def test_a_missing_costroute_config_is_one_clear_error(runner: CliRunner, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTROUTE_CONFIG", str(tmp_path / "nope.yaml"))
    for command in ("spend", "budget"):
        result = runner.invoke(app, [command])
        assert result.exit_code == 1 and "nope.yaml" in result.output, command


@pytest.mark.parametrize(("amount", "shown"), [
    ("0", "$0.00"), ("12.346", "$12.35"), ("1234.5", "$1,234.50"), ("0.5", "$0.50"), ("0.0149", "$0.0149"),
    ("0.009845", "$0.009845"), ("0.123456789", "$0.123457"), ("0.000155", "$0.000155"),
    ("0.0000001234", "$0.000000123"), ("-0.000155", "$-0.000155"),
])
def test_usd_keeps_every_micro_dollar_below_a_dollar(amount: str, shown: str) -> None:
    assert usd(Decimal(amount)) == shown


def test_usd_column_lines_up_on_its_smallest_amount() -> None:
    assert usd_column([Decimal("1.25"), Decimal("0.000155"), None]) == ["$1.250000", "$0.000155", "-"]
    assert usd_column([]) == []
