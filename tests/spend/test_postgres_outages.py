"""PostgreSQL refusing, stopped, restarted and frozen: bounded calls, clean errors, the spool.

The server is this module's own (password authentication; see ``PgServer`` in conftest), so
tests can stop it, restart it and SIGSTOP it. Elapsed-time bounds are loose (several times the
timeout they check; a frozen server used to hang a call for good), not speed assertions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from costroute import LedgerUnavailable
from costroute.spend import LedgerConfig, PostgresLedger, SpooledLedger, ledger_from_config

from .conftest import PgServer, assert_no_secret, make_record, wait_until_ready

pytestmark = pytest.mark.postgres

TIMEOUT = 1.0
SENTINEL = "wrong-Sentinel-9f3k-password"


def _sync_calls(ledger: PostgresLedger) -> dict[str, Callable[[], Any]]:
    rec = make_record(1)
    return {
        "ready": ledger.ready,
        "append": lambda: ledger.append(rec),
        "append_many": lambda: ledger.append_many([rec]),
        "records": ledger.records,
        "summary": lambda: ledger.summary(group_by=["model"]),
        "record_feedback": lambda: ledger.record_feedback("r", 1.0, rec.ts),
        "feedback": ledger.feedback,
        "feedback_entries": ledger.feedback_entries,
        "schema_version": ledger.schema_version,
    }


def _async_calls(ledger: PostgresLedger) -> dict[str, Callable[[], Awaitable[Any]]]:
    rec = make_record(1)
    return {
        "aready": ledger.aready,
        "aappend": lambda: ledger.aappend(rec),
        "arecords": ledger.arecords,
        "asummary": ledger.asummary,
        "arecord_feedback": lambda: ledger.arecord_feedback("r", 1.0, rec.ts),
        "afeedback": ledger.afeedback,
        "afeedback_entries": ledger.afeedback_entries,
    }


def _check_every_call(ledger: PostgresLedger, secret: str) -> None:
    for name, call in _sync_calls(ledger).items():
        time.sleep(0.01)
        ledger._health._retry_at = 0.0  # look at the database itself, not the back-off
        with pytest.raises(LedgerUnavailable) as info:
            call()
        assert_no_secret(info.value, secret)
        assert info.value.__context__ is None or isinstance(info.value.__context__, LedgerUnavailable), name

    async def run_async() -> None:
        for name, call in _async_calls(ledger).items():
            ledger._health._retry_at = 0.0
            with pytest.raises(LedgerUnavailable) as info:
                await call()
            assert_no_secret(info.value, secret)
            assert info.value.__context__ is None or isinstance(info.value.__context__, LedgerUnavailable), name

    asyncio.run(run_async())


def test_a_refused_password_is_nowhere_in_any_error(pg: PgServer) -> None:
    db = pg.create_db()
    ledger = PostgresLedger(pg.dsn(db, password=SENTINEL), timeout_s=TIMEOUT)  # no I/O yet
    assert SENTINEL not in repr(ledger)
    _check_every_call(ledger, SENTINEL)
    with pytest.raises(LedgerUnavailable, match="password authentication failed"):
        ledger.ready()
    ledger.close()


def test_a_stopped_server_leaks_no_password_either(pg: PgServer) -> None:
    db = pg.create_db()
    ledger = PostgresLedger(pg.dsn(db), timeout_s=TIMEOUT)
    ledger.append(make_record(0))
    pg.stop()
    _check_every_call(ledger, PgServer.PASSWORD)
    ledger.close()
    kw = f"host=127.0.0.1 port={pg.port} dbname={db} user=costroute password={SENTINEL}"
    ledger = PostgresLedger(kw, timeout_s=TIMEOUT)
    _check_every_call(ledger, SENTINEL)
    ledger.close()


def test_a_ledger_made_while_the_server_is_down_works_once_it_is_up(pg: PgServer) -> None:
    db = pg.create_db()
    pg.stop()
    ledger = PostgresLedger(pg.dsn(db), timeout_s=TIMEOUT)
    with pytest.raises(LedgerUnavailable, match=r"Connection refused|connection failed"):
        ledger.ready()
    pg.start()
    wait_until_ready(ledger)  # connects and migrates now
    ledger.append(make_record(1))
    assert ledger.schema_version() == 4 and len(ledger.records()) == 1
    ledger.close()


def test_a_restart_between_calls_is_invisible(pg: PgServer) -> None:
    db = pg.create_db()
    ledger = PostgresLedger(pg.dsn(db), timeout_s=TIMEOUT)
    ledger.append(make_record(1))
    pg.stop()
    pg.start()
    ledger.append(make_record(2))  # the stale connection is replaced, once
    assert [r.request_id for r in ledger.records()] == ["req-1", "req-2"]
    ledger.close()


def test_a_frozen_server_fails_each_call_within_the_timeout(pg: PgServer) -> None:
    db = pg.create_db()
    ledger = PostgresLedger(pg.dsn(db), timeout_s=TIMEOUT)
    ledger.append(make_record(1))
    pg.freeze()
    started = time.monotonic()
    with pytest.raises(LedgerUnavailable, match="no answer within"):
        ledger.append(make_record(2))
    assert time.monotonic() - started < 5 * TIMEOUT + 5
    started = time.monotonic()
    with pytest.raises(LedgerUnavailable):
        ledger.ready()  # backing off: at once
    time.sleep(1.1)
    with pytest.raises(LedgerUnavailable):
        ledger.ready()  # a probe: connect_timeout (2 s, libpq's least) on a frozen server
    with pytest.raises(LedgerUnavailable):
        ledger.records()
    assert time.monotonic() - started < 4 * (TIMEOUT + 2) + 5

    async def run_async() -> None:
        started = time.monotonic()
        with pytest.raises(LedgerUnavailable):
            await ledger.asummary()
        assert time.monotonic() - started < 4 * (TIMEOUT + 2) + 5

    asyncio.run(run_async())
    pg.thaw()
    wait_until_ready(ledger)
    ledger.append(make_record(2))
    assert len(ledger.records()) == 2
    ledger.close()


@pytest.fixture()
def spooled(pg: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SpooledLedger:
    monkeypatch.setenv("COSTROUTE_HOME", str(tmp_path / "home"))
    made = ledger_from_config(
        LedgerConfig(backend="postgres", dsn=pg.dsn(pg.create_db()), timeout_s=TIMEOUT)  # type: ignore[arg-type]
    )
    assert isinstance(made, SpooledLedger) and isinstance(made.inner, PostgresLedger)
    assert made.spool.path.parent == tmp_path / "home"
    assert made.spool.path.name == made.inner.spool_name
    assert made.spool.path.name.startswith("ledger-spool-") and PgServer.PASSWORD not in made.spool.path.name
    return made


def test_records_paid_while_the_server_is_down_are_spooled_then_replayed(
    pg: PgServer, spooled: SpooledLedger, caplog: pytest.LogCaptureFixture
) -> None:
    spooled.ready()
    spooled.append(make_record(0))
    pg.stop()
    with pytest.raises(LedgerUnavailable):
        spooled.ready()  # nothing new is sent
    spooled.append(make_record(1))  # an answer that arrived: delivered, its record kept
    spooled.append(make_record(2))
    assert [r.request_id for r in spooled.spooled()] == ["req-1", "req-2"]
    assert spooled.spool.path.stat().st_mode & 0o777 == 0o600
    assert "spooled" in caplog.text and PgServer.PASSWORD not in caplog.text
    with pytest.raises(LedgerUnavailable):
        spooled.records()  # the database cannot be read: no partial answer
    pg.start()
    wait_until_ready(spooled)
    assert spooled.spooled() == []
    assert [r.request_id for r in spooled.inner.records()] == ["req-0", "req-1", "req-2"]
    spooled.close()


def test_a_frozen_server_spools_within_the_timeout_and_replays_when_thawed(
    pg: PgServer, spooled: SpooledLedger
) -> None:
    spooled.ready()
    spooled.append(make_record(0))
    pg.freeze()
    started = time.monotonic()
    spooled.append(make_record(1))
    assert time.monotonic() - started < 5 * TIMEOUT + 5
    assert [r.request_id for r in spooled.spooled()] == ["req-1"]
    pg.thaw()
    wait_until_ready(spooled)
    assert [r.request_id for r in spooled.records()] == ["req-0", "req-1"]
    spooled.close()


async def test_async_appends_are_spooled_while_the_server_is_down(
    pg: PgServer, spooled: SpooledLedger
) -> None:
    await spooled.aready()
    await spooled.aappend(make_record(0))
    pg.stop()
    with pytest.raises(LedgerUnavailable):
        await spooled.aready()
    await asyncio.gather(*(spooled.aappend(make_record(i)) for i in range(1, 6)))
    assert sorted(r.request_id for r in spooled.spooled()) == [f"req-{i}" for i in range(1, 6)]
    pg.start()
    for _ in range(200):
        try:
            await spooled.aready()
            break
        except LedgerUnavailable:
            await asyncio.sleep(0.1)
    assert spooled.spooled() == []
    assert len(await spooled.arecords()) == 6
    await spooled.aclose()
