"""Group commits: concurrent writers share transactions, and each returns only once its own
record is committed (read back through a connection of its own, right after the append)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from costroute import LedgerUnavailable
from costroute.spend import PostgresLedger, SQLiteLedger

from .conftest import make_record, write_locked

KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def target(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return str(tmp_path / "ledger.sqlite3") if kind == "sqlite" else str(request.getfixturevalue("postgres_dsn"))


def _open(kind: str, target: str, **options: Any) -> SQLiteLedger | PostgresLedger:
    return SQLiteLedger(target, **options) if kind == "sqlite" else PostgresLedger(target, **options)


@pytest.fixture()
def committed(kind: str, target: str) -> Iterator[Callable[[str], bool]]:
    """Whether a request's record is committed, seen from an independent connection."""
    if kind == "sqlite":
        conn: Any = sqlite3.connect(target, check_same_thread=False)
        sql = "SELECT 1 FROM spend_records WHERE request_id = ?"
    else:
        import psycopg

        conn = psycopg.connect(target, autocommit=True)
        sql = "SELECT 1 FROM spend_records WHERE request_id = %s"
    lock = threading.Lock()

    def check(request_id: str) -> bool:
        with lock:
            return conn.execute(sql, (request_id,)).fetchone() is not None

    yield check
    conn.close()


def test_concurrent_threads_share_transactions_and_return_after_their_commit(
    kind: str, target: str, committed: Callable[[str], bool]
) -> None:
    ledger = _open(kind, target)
    ledger.ready()
    unseen: list[str] = []
    start = threading.Barrier(32)

    def work(t: int) -> None:
        start.wait()
        for i in range(10):
            rid = f"req-{t}-{i}"
            ledger.append(make_record(0, request_id=rid))
            if not committed(rid):
                unseen.append(rid)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(32)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert unseen == []
    assert len(ledger.records()) == 320
    assert ledger._committer.batches < 320  # some transactions carried several writers' records
    ledger.close()


async def test_concurrent_tasks_and_threads_share_transactions(
    kind: str, target: str, committed: Callable[[str], bool]
) -> None:
    ledger = _open(kind, target)
    await ledger.aready()
    unseen: list[str] = []

    async def task(i: int) -> None:
        rid = f"task-{i}"
        await ledger.aappend(make_record(0, request_id=rid))
        if not committed(rid):
            unseen.append(rid)

    def thread(t: int) -> None:
        for i in range(10):
            rid = f"thread-{t}-{i}"
            ledger.append(make_record(0, request_id=rid))
            if not committed(rid):
                unseen.append(rid)

    threads = [threading.Thread(target=thread, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    await asyncio.gather(*(task(i) for i in range(64)))
    await asyncio.to_thread(lambda: [th.join() for th in threads])
    assert unseen == []
    assert len(await ledger.arecords()) == 64 + 40
    assert ledger._committer.batches < 64 + 40
    await ledger.aclose()


def test_single_commits_write_one_transaction_per_append(kind: str, target: str) -> None:
    ledger = _open(kind, target, group_commit=False)

    def work(t: int) -> None:
        for i in range(10):
            ledger.append(make_record(0, request_id=f"req-{t}-{i}"))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert ledger._committer.batches == 80 and len(ledger.records()) == 80
    ledger.close()


def test_every_writer_of_a_failed_transaction_gets_the_failure(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = SQLiteLedger(path, timeout_s=0.5)
    failures: list[BaseException] = []
    start = threading.Barrier(16)

    def work(i: int) -> None:
        start.wait()
        try:
            ledger.append(make_record(i))
        except LedgerUnavailable as exc:
            failures.append(exc)

    with write_locked(path):
        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert len(failures) == 16 and len({id(f) for f in failures}) == 16  # one exception each
    assert ledger.records() == []
    ledger.close()
