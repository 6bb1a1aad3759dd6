"""``costroute spend`` and ``costroute budget`` through typer's CliRunner."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from costroute.cli._spend import parse_when, register
from costroute.spend import BudgetConfig, Budgets, SQLiteBudgetStore, SQLiteLedger

from .conftest import make_record

NOW = datetime.now(timezone.utc)


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    ledger_path = tmp_path / "ledger.sqlite3"
    ledger = SQLiteLedger(ledger_path)
    ledger.append_many([
        make_record(1, ts=NOW - timedelta(hours=1), model="gpt-4o-mini",
                    cost_usd=Decimal("0.25"), tags={"user": "alice"}),
        make_record(2, ts=NOW - timedelta(hours=2), model="claude-haiku",
                    cost_usd=Decimal("0.50"), tags={"user": "bob"}),
        make_record(3, ts=NOW - timedelta(days=10), model="gpt-4o-mini",
                    cost_usd=Decimal("1.00"), tags={"user": "alice"}),
    ])
    ledger.close()
    config = tmp_path / "costroute.yaml"
    config.write_text(
        f"ledger:\n  backend: sqlite\n  path: {ledger_path}\n"
        f"budget_store:\n  backend: sqlite\n  path: {tmp_path / 'budgets.sqlite3'}\n"
        "budgets:\n"
        "  - {name: monthly, limit_usd: 10, period: month}\n"
        "  - {name: per-user, limit_usd: 2, period: total, scope: 'tag:user', on_exceed: warn}\n"
    )
    return ledger_path, config


def test_parse_when() -> None:
    now = datetime(2026, 11, 10, 12, tzinfo=timezone.utc)
    assert parse_when("7d", now=now) == now - timedelta(days=7)
    assert parse_when("12h", now=now) == now - timedelta(hours=12)
    assert parse_when("2w", now=now) == now - timedelta(weeks=2)
    assert parse_when("2026-11-01", now=now) == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert parse_when("2026-11-01T05:00:00+02:00", now=now) == datetime(
        2026, 11, 1, 3, tzinfo=timezone.utc)
    with pytest.raises(typer.BadParameter):
        parse_when("yesterday", now=now)


def test_spend_table(app: typer.Typer, files: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(app, ["spend", "--ledger", str(files[0]), "--by", "model"])
    assert result.exit_code == 0, result.output
    assert "gpt-4o-mini" in result.output and "claude-haiku" in result.output
    assert "$1.25" in result.output


def test_spend_json_since_by_tag(app: typer.Typer, files: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(
        app, ["spend", "--config", str(files[1]), "--by", "tag:user", "--since", "7d",
              "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["tag:user"], r["cost_usd"]) for r in rows] == [
        ("alice", "0.250000"), ("bob", "0.500000")
    ]


def test_spend_csv(app: typer.Typer, files: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(
        app, ["spend", "--ledger", str(files[0]), "--by", "day", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("day,requests,attempts")
    assert len(lines) == 1 + len({(NOW - timedelta(hours=h)).date() for h in (1, 2)}) + 1


def test_spend_bad_group(app: typer.Typer, files: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(app, ["spend", "--ledger", str(files[0]), "--by", "prompt"])
    assert result.exit_code != 0
    assert "cannot group by" in result.output


def test_spend_empty(app: typer.Typer, tmp_path: Path) -> None:
    SQLiteLedger(tmp_path / "empty.sqlite3").close()
    result = CliRunner().invoke(app, ["spend", "--ledger", str(tmp_path / "empty.sqlite3")])
    assert result.exit_code == 0 and "no spend recorded" in result.output


def test_spend_on_a_mistyped_ledger_path_is_an_error_and_creates_nothing(app: typer.Typer, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ledger.sqlite3"
    result = CliRunner().invoke(app, ["spend", "--ledger", str(missing)])
    assert result.exit_code == 1 and "no ledger file" in " ".join(result.output.split())
    assert not missing.parent.exists()


def test_spend_since_too_far_back_is_a_clean_error(app: typer.Typer, files: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(app, ["spend", "--ledger", str(files[0]), "--since", "99999999d"])
    assert result.exit_code == 2 and "before year 1" in " ".join(result.output.split())


def test_names_that_look_like_markup_are_shown_as_written(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "marks.sqlite3"
    SQLiteLedger(path).append_many([make_record(1, ts=NOW, model="m[/x]", tags={"team": "[bold]a[/]"})])
    for by in ("model", "tag:team"):
        result = CliRunner().invoke(app, ["spend", "--ledger", str(path), "--by", by])
        assert result.exit_code == 0, result.output
    assert "[bold]a[/]" in result.output


def test_budget(app: typer.Typer, files: tuple[Path, Path], tmp_path: Path) -> None:
    store = SQLiteBudgetStore(tmp_path / "budgets.sqlite3")
    budgets = Budgets(
        [BudgetConfig(name="monthly", limit_usd=Decimal(10)),
         BudgetConfig(name="per-user", limit_usd=Decimal(2), period="total", scope="tag:user",
                      on_exceed="warn")],
        store,
    )
    budgets.reserve(request_id="a", amount=Decimal("0.75"), tags={"user": "alice"}).settle(
        Decimal("0.75"))
    held = budgets.reserve(request_id="b", amount=Decimal("0.5"), tags={"user": "bob"})
    result = CliRunner().invoke(app, ["budget", "--config", str(files[1]), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {(r["budget"], r["scope"]): r for r in json.loads(result.output)}
    assert rows["monthly", "global"]["spent"] == "0.750000"
    assert rows["monthly", "global"]["reserved"] == "0.500000"
    assert rows["monthly", "global"]["remaining"] == "8.750000"
    assert rows["per-user", "tag:user=alice"]["spent"] == "0.750000"
    assert rows["per-user", "tag:user=bob"]["reserved"] == "0.500000"
    assert rows["per-user", "tag:user=bob"]["resets_at"] is None
    table = CliRunner().invoke(app, ["budget", "--config", str(files[1])])
    assert table.exit_code == 0 and "monthly" in table.output and "$8.75" in table.output
    held.release()
    store.close()


def test_budget_without_config_budgets(app: typer.Typer, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"ledger: {{backend: sqlite, path: {tmp_path / 'l.sqlite3'}}}\n"
                      f"budget_store: {{backend: memory}}\n")
    result = CliRunner().invoke(app, ["budget", "--config", str(config)])
    assert result.exit_code == 0 and "no budgets configured" in result.output


def test_bad_config_is_one_message(app: typer.Typer, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("budgets:\n  - {name: x, limit_usd: -1}\n")
    result = CliRunner().invoke(app, ["budget", "--config", str(config)])
    assert result.exit_code == 1
    assert "limit_usd" in result.output
