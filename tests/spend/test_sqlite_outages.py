"""SQLite locked by another process: bounded waits, LedgerUnavailable, the spool, the replay.

The lock is real: a child process holds ``BEGIN IMMEDIATE`` on the file (:func:`write_locked`).
Waits are bounded by ``timeout_s``; the elapsed-time bounds below are ten times looser than the
timeout they check (the old behaviour was a 30 s wait), so they are not speed assertions.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

import pytest

from costroute import LedgerUnavailable
from costroute.spend import LedgerConfig, SpooledLedger, SQLiteLedger, ledger_from_config

from .conftest import make_record, wait_until_ready, write_locked

TIMEOUT = 0.5


@pytest.fixture()
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite3"


@pytest.fixture()
def spooled(path: Path) -> SpooledLedger:
    made = ledger_from_config(LedgerConfig(path=str(path), timeout_s=TIMEOUT))
    assert isinstance(made, SpooledLedger)
    return made


def test_a_locked_file_fails_within_the_timeout_as_ledger_unavailable(path: Path) -> None:
    ledger = SQLiteLedger(path, timeout_s=TIMEOUT)
    ledger.append(make_record(0))
    with write_locked(path):
        started = time.monotonic()
        with pytest.raises(LedgerUnavailable, match="database is locked") as info:
            ledger.append(make_record(1))
        assert time.monotonic() - started < 10 * TIMEOUT + 5
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        with pytest.raises(LedgerUnavailable):  # backing off: fails at once
            ledger.ready()
        with pytest.raises(LedgerUnavailable):
            ledger.record_feedback("req-0", 1.0, make_record(0).ts)
        assert [r.request_id for r in ledger.records()] == ["req-0"]  # reads go on (WAL)
    wait_until_ready(ledger)
    ledger.append(make_record(1))
    assert [r.request_id for r in ledger.records()] == ["req-0", "req-1"]
    ledger.close()


def test_ready_probes_the_write_lock_after_a_failure(path: Path) -> None:
    ledger = SQLiteLedger(path, timeout_s=TIMEOUT)
    ledger.ready()  # fresh after the migration check: no probe
    with write_locked(path):
        ledger.ready()  # still fresh: ready() does not touch the file while writes succeed
        with pytest.raises(LedgerUnavailable):
            ledger.append(make_record(1))
        time.sleep(1.1)  # past the back-off: the next ready() probes, and the lock is still held
        with pytest.raises(LedgerUnavailable, match="write lock"):
            ledger.ready()
    wait_until_ready(ledger)
    ledger.close()


def test_a_record_that_cannot_be_written_is_spooled_and_replayed_once(
    spooled: SpooledLedger, path: Path
) -> None:
    spooled.append(make_record(0, cost_usd=Decimal("0.10")))
    with write_locked(path):
        spooled.append(make_record(1, cost_usd=Decimal("0.20"), tags={"user": "bob"}))
        spooled.append_many([make_record(2, cost_usd=Decimal("0.30")), make_record(2, attempt=1)])
        with pytest.raises(LedgerUnavailable):
            spooled.ready()  # no new spending while the database cannot take records
        spool = Path(f"{path}.spool")
        assert spool.stat().st_mode & 0o777 == 0o600
        lines = [json.loads(line) for line in spool.read_text().splitlines()]
        assert [(d["request_id"], d["attempt"]) for d in lines] == [("req-1", 0), ("req-2", 0), ("req-2", 1)]
        assert [r.request_id for r in spooled.spooled()] == ["req-1", "req-2", "req-2"]
        # reads count what waits (budget seeding reads records())
        assert [r.request_id for r in spooled.records()] == ["req-0", "req-1", "req-2", "req-2"]
        assert [r.request_id for r in spooled.records(tags={"user": "bob"})] == ["req-1"]
        assert len(spooled.records(limit=2)) == 2
        (total,) = spooled.summary()
        assert (total.requests, total.attempts, total.cost_usd) == (3, 4, Decimal("0.600123"))
        assert [r.attempts for r in spooled.summary(group_by=["model"])] == [4]
        assert [r.request_id for r in spooled.inner.records()] == ["req-0"]  # the database itself
    wait_until_ready(spooled)  # the first successful ready() replays
    assert spooled.spooled() == [] and spool.stat().st_size == 0
    assert [(r.request_id, r.attempt) for r in spooled.inner.records()] == [
        ("req-0", 0), ("req-1", 0), ("req-2", 0), ("req-2", 1)
    ]
    assert spooled.replay() == 0
    (total,) = spooled.summary()
    assert total.attempts == 4 and total.cost_usd == Decimal("0.600123")
    spooled.close()


def test_a_replay_cut_short_books_each_record_once(spooled: SpooledLedger, path: Path) -> None:
    with write_locked(path):
        spooled.append_many([make_record(1), make_record(2)])
    # as if a replay had committed and died before truncating: the records are in the database
    # and still in the spool
    wait_until_ready(spooled.inner)
    spooled.inner.append_many([make_record(1), make_record(2)])
    assert len(spooled.spooled()) == 2
    assert spooled.replay() == 2
    assert [r.request_id for r in spooled.records()] == ["req-1", "req-2"]
    spooled.close()


def test_the_next_successful_append_replays(spooled: SpooledLedger, path: Path) -> None:
    with write_locked(path):
        spooled.append(make_record(1))
    time.sleep(1.1)  # past the back-off
    spooled.append(make_record(2))
    assert spooled.spooled() == []
    assert [r.request_id for r in spooled.inner.records()] == ["req-1", "req-2"]
    spooled.close()


def test_if_even_the_spool_cannot_be_written_append_raises(path: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    ledger = SpooledLedger(SQLiteLedger(path, timeout_s=TIMEOUT), blocker / "ledger.spool")
    with write_locked(path), pytest.raises(LedgerUnavailable, match="could not be spooled") as info:
        ledger.append(make_record(1))
    assert "database is locked" in str(info.value)
    ledger.close()


async def test_async_appends_while_locked_never_block_the_event_loop(
    spooled: SpooledLedger, path: Path
) -> None:
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    await spooled.aready()
    with write_locked(path):
        before = ticks
        started = time.monotonic()
        # each waits TIMEOUT on the locked file, on the ledger's worker thread, then is spooled
        await asyncio.gather(*(spooled.aappend(make_record(i)) for i in range(3)))
        waited = time.monotonic() - started
        with pytest.raises(LedgerUnavailable):
            await spooled.aready()
        assert len(spooled.spooled()) == 3
    stop.set()
    await task
    assert waited >= TIMEOUT * 0.9  # the appends really waited on the lock ...
    assert ticks - before >= 10  # ... while the loop kept ticking (a blocked loop: 0-3 ticks)
    for _ in range(200):
        try:
            await spooled.aready()
            break
        except LedgerUnavailable:
            await asyncio.sleep(0.1)
    assert spooled.spooled() == [] and len(await spooled.arecords()) == 3
    await spooled.aclose()


async def test_a_cancelled_async_append_is_still_spooled(spooled: SpooledLedger, path: Path) -> None:
    with write_locked(path):
        task = asyncio.create_task(spooled.aappend(make_record(7)))
        await asyncio.sleep(0.05)  # it is waiting on the lock
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(100):  # the shielded write goes on: spooled once the lock wait times out
            if spooled.spooled():
                break
            await asyncio.sleep(0.05)
        assert [r.request_id for r in spooled.spooled()] == ["req-7"]
    await spooled.aclose()
