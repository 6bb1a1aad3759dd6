"""Rollups (#13.4): a summary read from the rollups equals a full scan of the records, exactly.

Property test: random ledgers (retried requests with records in different hours, models,
statuses and tags; records appended in one batch or one by one, some twice), random ranges
(aligned to the hour or not, open ends) and random groupings and filters, compared with the
records' full scan in SQL and with the pure :func:`summarize`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from costroute.spend import PostgresLedger, SQLiteLedger, summarize
from costroute.spend._ledger import matches
from costroute.spend._records import SpendRecord

from .conftest import make_record

T0 = datetime(2026, 11, 30, 22, 0, tzinfo=timezone.utc)
GROUPS = ["model", "policy", "status", "day", "role", "tag:user", "tag:team"]


@st.composite
def ledgers(draw: st.DrawFn) -> list[SpendRecord]:
    out: list[SpendRecord] = []
    for i in range(draw(st.integers(0, 25))):
        for attempt in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
            tags = {"user": draw(st.sampled_from(["alice", "bob"]))}
            if draw(st.booleans()):
                tags["team"] = draw(st.sampled_from(["a", "b"]))
            out.append(make_record(
                i, attempt=attempt,
                ts=T0 + timedelta(seconds=draw(st.integers(0, 5 * 3600))),
                model=draw(st.sampled_from(["m1", "m2"])),
                policy=draw(st.sampled_from(["default", "cheap"])),
                status=draw(st.sampled_from(["ok", "error", "cache_hit", "estimated"])),
                estimated=draw(st.booleans()),
                role=draw(st.sampled_from(["answer", "judge"])),
                cost_usd=Decimal(draw(st.integers(0, 10**7))) / 10**6,
                input_tokens=draw(st.integers(0, 10**6)),
                tags=tags,
            ))
    return out


def bound(draw: st.DrawFn) -> datetime | None:
    if draw(st.booleans()):
        return None
    hours = draw(st.integers(-1, 6))
    minutes = draw(st.sampled_from([0, 0, 17, 59]))
    return T0 + timedelta(hours=hours, minutes=minutes)


@st.composite
def queries(draw: st.DrawFn) -> dict[str, object]:
    q: dict[str, object] = {
        "group_by": draw(st.lists(st.sampled_from(GROUPS), unique=True, max_size=3)),
        "since": bound(draw), "until": bound(draw),
    }
    if draw(st.booleans()):
        q["model"] = "m1"
    if draw(st.booleans()):
        q["tags"] = {"user": "alice"}
    return q


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=ledgers(), qs=st.lists(queries(), min_size=1, max_size=4), one_by_one=st.booleans())
def test_rollups_equal_a_full_scan(
    records: list[SpendRecord], qs: list[dict[str, object]], one_by_one: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ledger = SQLiteLedger(Path(tmp) / "l.sqlite3", group_commit=False)
        if one_by_one:
            for r in records:
                ledger.append(r)
            ledger.append_many(records[: len(records) // 2])  # re-appending never double-counts
        else:
            ledger.append_many(records)
        for q in qs:
            rolled = ledger.summary(**q)  # type: ignore[arg-type]
            assert rolled == ledger.scan_summary(**q)  # type: ignore[arg-type]
            since, until = q["since"], q["until"]
            chosen = [
                r for r in records
                if (since is None or r.ts >= since) and (until is None or r.ts < until)  # type: ignore[operator]
                and matches(r, tags=q.get("tags"), model=q.get("model"), policy=None)  # type: ignore[arg-type]
            ]
            assert rolled == summarize(chosen, q["group_by"])  # type: ignore[arg-type]
        ledger.close()


def test_an_existing_ledger_is_rolled_up_by_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    records = [make_record(i % 5, attempt=i // 5, ts=T0 + timedelta(minutes=37 * i)) for i in range(12)]
    ledger = SQLiteLedger(path)
    ledger.append_many(records)
    expected = ledger.scan_summary(group_by=["model", "day"])
    ledger.close()
    with sqlite3.connect(path) as conn:  # back to v3: no rollup, no multi column
        conn.execute("DROP TRIGGER spend_rollup_multi")
        conn.execute("DROP TRIGGER spend_rollup_add")
        conn.execute("DROP TABLE spend_rollup")
        conn.execute("DROP TABLE spend_rollup_tags")
        conn.execute("DROP INDEX spend_records_multi")
        conn.execute("ALTER TABLE spend_records DROP COLUMN multi")
        conn.execute("DELETE FROM costroute_migrations WHERE component = 'ledger' AND version = 4")
    again = SQLiteLedger(path)
    assert again.schema_version() == 4
    assert again.summary(group_by=["model", "day"]) == expected == summarize(records, ["model", "day"])
    assert sum(r.attempts for r in expected) == 12 and {r.requests for r in expected} == {4, 5}
    again.close()


def random_ledger(seed: int, n: int = 60) -> list[SpendRecord]:
    import random

    rnd = random.Random(seed)
    out: list[SpendRecord] = []
    for i in range(n):
        for attempt in range(rnd.choice([1, 1, 2, 3])):
            tags = {"user": rnd.choice(["alice", "bob"])}
            if rnd.random() < 0.5:
                tags["team"] = rnd.choice(["a", "b"])
            out.append(make_record(
                i, attempt=attempt, ts=T0 + timedelta(seconds=rnd.randrange(5 * 3600)),
                model=rnd.choice(["m1", "m2"]), status=rnd.choice(["ok", "error", "cache_hit"]),
                estimated=rnd.random() < 0.2, role=rnd.choice(["answer", "judge"]),
                cost_usd=Decimal(rnd.randrange(10**7)) / 10**6, tags=tags,
            ))
    return out


QUERIES: list[dict[str, object]] = [
    {},
    {"group_by": ["model"]},
    {"group_by": ["day", "tag:team"], "since": T0 + timedelta(minutes=17)},
    {"group_by": ["status", "role"], "since": T0 + timedelta(hours=1),
     "until": T0 + timedelta(hours=3, minutes=59)},
    {"group_by": ["tag:user"], "until": T0 + timedelta(hours=2, minutes=1), "model": "m1"},
    {"group_by": ["policy"], "since": T0 + timedelta(minutes=5), "until": T0 + timedelta(minutes=50),
     "tags": {"user": "alice"}},
]


@pytest.mark.postgres
@pytest.mark.parametrize("seed", range(3))
def test_postgres_rollups_equal_a_full_scan(seed: int, postgres_dsn: str) -> None:
    records = random_ledger(seed)
    ledger = PostgresLedger(postgres_dsn)
    half = len(records) // 2
    ledger.append_many(records[:half])
    for r in records[half:]:
        ledger.append(r)
    ledger.append_many(records[:10])  # again: never double-counted
    for q in QUERIES:
        rolled = ledger.summary(**q)  # type: ignore[arg-type]
        assert rolled == ledger.scan_summary(**q)  # type: ignore[arg-type]
        assert rolled == asyncio.run(ledger.asummary(**q))  # type: ignore[arg-type]
    assert ledger.summary() == summarize(records)
    ledger.close()


@pytest.mark.postgres
def test_postgres_concurrent_writers_of_one_request_count_it_once(postgres_dsn: str) -> None:
    ledgers = [PostgresLedger(postgres_dsn) for _ in range(4)]
    barrier = threading.Barrier(len(ledgers))

    def write(k: int, ledger: PostgresLedger) -> None:
        barrier.wait()
        for i in range(40):  # every request gets one record from each writer, at once
            ledger.append(make_record(i, attempt=k, ts=T0 + timedelta(minutes=i, seconds=k)))

    threads = [threading.Thread(target=write, args=(k, lg)) for k, lg in enumerate(ledgers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (row,) = ledgers[0].summary()
    assert row.requests == 40 and row.attempts == 160
    assert ledgers[0].summary(group_by=["model"]) == ledgers[0].scan_summary(group_by=["model"])
    for lg in ledgers:
        lg.close()


def test_sqlite_concurrent_processes_of_one_request_count_it_once(tmp_path: Path) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_attempts, args=(str(tmp_path / "l.sqlite3"), k)) for k in range(3)]
    SQLiteLedger(tmp_path / "l.sqlite3").close()
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    ledger = SQLiteLedger(tmp_path / "l.sqlite3")
    (row,) = ledger.summary()
    assert row.requests == 30 and row.attempts == 90
    assert ledger.summary(group_by=["day"]) == ledger.scan_summary(group_by=["day"])
    ledger.close()


def _write_attempts(path: str, k: int) -> None:
    ledger = SQLiteLedger(path)
    for i in range(30):
        ledger.append(make_record(i, attempt=k, ts=T0 + timedelta(minutes=i, seconds=k)))
    ledger.close()
