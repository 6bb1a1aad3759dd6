"""SQLite specifics: private files, WAL, migrations, and surviving kill -9 of a writer."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import pytest

from costroute.spend import (
    BudgetConfig,
    Budgets,
    SQLiteBudgetStore,
    SQLiteLedger,
)

from .conftest import make_record


def test_files_are_private_and_in_wal_mode(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "sub" / "ledger.sqlite3")
    ledger.append(make_record(1))
    store = SQLiteBudgetStore(tmp_path / "sub" / "budgets.sqlite3")
    Budgets([BudgetConfig(name="b", limit_usd=Decimal(1))], store).reserve(
        request_id="r", amount=Decimal("0.1")).release()
    assert (tmp_path / "sub").stat().st_mode & 0o777 == 0o700
    files = sorted(p.name for p in (tmp_path / "sub").iterdir())
    assert "ledger.sqlite3-wal" in files and "budgets.sqlite3-wal" in files
    for name in files:
        assert (tmp_path / "sub" / name).stat().st_mode & 0o777 == 0o600, name
    with sqlite3.connect(tmp_path / "sub" / "ledger.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ledger.close()
    store.close()


def test_migrations_are_recorded_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    first = SQLiteLedger(path)
    first.append(make_record(1))
    first.close()
    again = SQLiteLedger(path)  # reopening does not re-run or lose anything
    store = SQLiteBudgetStore(path)  # both components may share one file
    assert again.schema_version() == 4 and len(again.records()) == 1
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT component, version FROM costroute_migrations ORDER BY 1"
        ).fetchall()
    assert rows == [("budgets", 1), ("budgets", 2), ("ledger", 1), ("ledger", 2), ("ledger", 3), ("ledger", 4)]
    again.close()
    store.close()


def test_closed_ledger_refuses(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "l.sqlite3")
    ledger.close()
    with pytest.raises(RuntimeError, match="closed"):
        ledger.records()


CHILD = textwrap.dedent(
    """
    import sys
    from decimal import Decimal
    from datetime import datetime, timezone
    from costroute.spend import BudgetConfig, Budgets, SQLiteBudgetStore, SQLiteLedger, SpendRecord

    ledger = SQLiteLedger(sys.argv[1])
    budgets = Budgets(
        [BudgetConfig(name="b", limit_usd=Decimal(1000), period="total")],
        SQLiteBudgetStore(sys.argv[2]), reservation_ttl_s=1,
    )
    prefix = sys.argv[3]
    i = 0
    while True:
        rid = f"{prefix}-{i}"
        with budgets.reserve(request_id=rid, amount=Decimal("0.002")) as res:
            ledger.append(SpendRecord(
                request_id=rid, attempt=0, ts=datetime.now(timezone.utc), model="m",
                provider="p", status="ok", cost_usd=Decimal("0.001"), prompt_text="x" * 2000,
            ))
            res.settle(Decimal("0.001"))
        sys.stdout.write(rid + "\\n")
        sys.stdout.flush()
        i += 1
    """
)


def test_kill_9_of_a_writer_loses_nothing_acknowledged(tmp_path: Path) -> None:
    ledger_path, store_path = tmp_path / "ledger.sqlite3", tmp_path / "budgets.sqlite3"
    acknowledged: list[str] = []
    for cycle in range(4):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(ledger_path), str(store_path), f"c{cycle}"],
            stdout=subprocess.PIPE, text=True,
        )
        assert child.stdout is not None
        first = child.stdout.readline()  # wait until it is writing (a loaded machine starts it slowly)
        deadline = time.monotonic() + 0.6 + 0.2 * cycle
        acknowledged.append(first.strip())
        while time.monotonic() < deadline:
            acknowledged.append(child.stdout.readline().strip())
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        acknowledged += [line.strip() for line in child.stdout if line.endswith("\n")]
        child.stdout.close()
        for path in (ledger_path, store_path):
            with sqlite3.connect(path) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ledger = SQLiteLedger(ledger_path)
    stored = {r.request_id for r in ledger.records()}
    assert len(acknowledged) > 20
    assert set(acknowledged) <= stored
    # the store still works, and the killed writers' reservations expire (ttl 1 s)
    store = SQLiteBudgetStore(store_path)
    budgets = Budgets([BudgetConfig(name="b", limit_usd=Decimal(1000), period="total")], store)
    (state,) = budgets.snapshot(budgets.keys_for())
    assert state.spent >= Decimal("0.001") * len(acknowledged)
    assert state.spent <= Decimal("0.001") * len(stored)
    time.sleep(1.1)
    (state,) = budgets.snapshot(budgets.keys_for())
    assert state.reserved == 0
    ledger.close()
    store.close()


def _old_ledger(path: Path, version: int) -> None:
    """A ledger file as version ``version`` of the schema left it, with one record (and, from
    version 2, one feedback score) written by that version's SQL."""
    from costroute.spend import _sqlite_ledger
    from costroute.spend._sqlite import SQLiteFile

    SQLiteFile(path, component="ledger", migrations=_sqlite_ledger._MIGRATIONS[:version]).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO spend_records (request_id, attempt, ts, model, provider, status, policy,"
            " tier, difficulty, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens,"
            " reasoning_tokens, cost_micros, baseline_micros, saved_micros, input_per_mtok,"
            " output_per_mtok, price_source, latency_ms, tags, prompt_hash, prompt_text, error,"
            " estimated) VALUES ('req-7', 0, 1793707200000000, 'm', 'p', 'ok', 'default', 'standard',"
            " NULL, 100, 0, 0, 20, 0, 123, 1000, 877, '0.15', NULL, 'sheet', 1.5, '{\"user\": \"a\"}',"
            " 'h', NULL, '', 0)"
        )
        if version >= 2:
            conn.execute("INSERT INTO feedback (request_id, score, ts) VALUES ('req-7', 0.5, 0)")


@pytest.mark.parametrize("version", [1, 2])
def test_an_old_ledger_is_migrated_without_losing_records(tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.sqlite3"
    _old_ledger(path, version)
    upgraded = SQLiteLedger(path)
    assert upgraded.schema_version() == 4
    assert upgraded.summary()[0].cost_usd == Decimal("0.000123")  # rolled up by the migration
    (back,) = upgraded.records()
    assert (back.request_id, back.model, back.cost_usd, back.tags) == ("req-7", "m", Decimal("0.000123"), {"user": "a"})
    assert (back.service_tier, back.batch_id, back.role, back.step, back.verdict) == ("default", "", "answer", 0, "")
    assert back.parent_request_id == "" and back.answer_text is None
    assert upgraded.feedback() == ({"req-7": 0.5} if version == 2 else {})
    if version == 2:  # the old score is kept as the application's, about the answering model
        (entry,) = upgraded.feedback_entries()
        assert (entry.source, entry.model, entry.score) == ("app", "m", 0.5)
    upgraded.record_feedback("req-7", 1.0, back.ts, source="judge")
    assert upgraded.feedback() == ({"req-7": 0.5} if version == 2 else {"req-7": 1.0})
    upgraded.append(make_record(8, role="verifier", verdict="pass", service_tier="flex"))
    assert [r.role for r in upgraded.records()] == ["answer", "verifier"]
    upgraded.close()
