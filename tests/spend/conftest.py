"""Fixtures for the spend tests: every ledger and every budget store, parametrized."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costroute.spend import (
    BudgetStore,
    Ledger,
    MemoryBudgetStore,
    MemoryLedger,
    PostgresLedger,
    RedisBudgetStore,
    SpendRecord,
    SpooledLedger,
    SQLiteBudgetStore,
    SQLiteLedger,
)

T0 = datetime(2026, 11, 3, 12, 0, tzinfo=timezone.utc)


def make_record(i: int = 0, **overrides: Any) -> SpendRecord:
    """A plausible record; ``i`` varies the request id and timestamp."""
    values: dict[str, Any] = {
        "request_id": f"req-{i}",
        "attempt": 0,
        "ts": T0 + timedelta(minutes=i),
        "model": "gpt-4o-mini",
        "provider": "openai",
        "status": "ok",
        "policy": "default",
        "tier": "standard",
        "input_tokens": 100,
        "output_tokens": 20,
        "cost_usd": Decimal("0.000123"),
        "baseline_cost_usd": Decimal("0.001000"),
        "saved_usd": Decimal("0.000877"),
        "tags": {"user": "alice"},
        "prompt_hash": "abc",
    }
    values.update(overrides)
    return SpendRecord(**values)


LEDGERS = ["memory", "sqlite", "spooled", pytest.param("postgres", marks=pytest.mark.postgres)]


def make_ledger(kind: str, request: pytest.FixtureRequest, tmp_path: Path, **options: Any) -> Ledger:
    if kind == "memory":
        return MemoryLedger(**options)
    if kind == "sqlite":
        return SQLiteLedger(tmp_path / "ledger.sqlite3", **options)
    if kind == "spooled":
        return SpooledLedger(SQLiteLedger(tmp_path / "ledger.sqlite3", **options), tmp_path / "ledger.spool")
    return PostgresLedger(request.getfixturevalue("postgres_dsn"), **options)


@pytest.fixture(params=LEDGERS)
def ledger_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def ledger(ledger_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """Every ledger backend (and SQLite inside a spool), empty."""
    made = make_ledger(ledger_kind, request, tmp_path)
    yield made
    made.close()


def _store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> BudgetStore:
    if kind == "memory":
        return MemoryBudgetStore()
    if kind == "sqlite":
        return SQLiteBudgetStore(tmp_path / "budgets.sqlite3")
    return RedisBudgetStore(request.getfixturevalue("redis_url"))


STORES = ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
async def store(
    store_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[BudgetStore]:
    """Every budget store backend, empty (async so the Redis async pool closes in its loop)."""
    made = _store(store_kind, request, tmp_path)
    yield made
    if isinstance(made, RedisBudgetStore):
        await made.aclose()
    else:
        made.close()




class PgServer:
    """A PostgreSQL cluster of a test's own, with password authentication, that a test may stop,
    restart, freeze (SIGSTOP of the postmaster and every backend) and thaw. Every database a
    test makes is on it; the cluster is removed at the end."""

    PASSWORD = "pg-sentinel-Zq8x-password"

    def __init__(self, root: Path) -> None:
        from tests.services import _as_postgres_user, _free_port, _pg_bin

        bindir = _pg_bin()
        if bindir is None:
            pytest.skip("PostgreSQL is not installed")
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self.prefix = _as_postgres_user()
        self.proc: subprocess.Popen[bytes] | None = None
        self.frozen: list[int] = []
        pwfile = root / "pw"
        pwfile.write_text(self.PASSWORD + "\n")
        if self.prefix:
            shutil.chown(root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        subprocess.run(
            [*self.prefix, str(bindir / "initdb"), "-D", str(self.data), "-U", "costroute",
             "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def dsn(self, db: str = "postgres", password: str | None = None) -> str:
        pw = self.PASSWORD if password is None else password
        return f"postgresql://costroute:{pw}@127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        from tests.services import _wait_for_port, _wait_for_postgres

        self.proc = subprocess.Popen(
            [*self.prefix, str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-k", str(self.root), "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self.proc, "postgres")
        _wait_for_postgres(self.dsn())

    def _postmaster(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def _tree(self) -> list[int]:
        root = self._postmaster()
        pids = [root]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == root:
                    pids.append(int(stat.parent.name))
        return pids

    def stop(self) -> None:
        """Fast shutdown: backends are terminated, clients see their connections closed."""
        self.thaw()
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self._postmaster(), signal.SIGINT)
            self.proc.wait(30)
        self.proc = None

    def freeze(self) -> None:
        """Stop every server process: connections stay open, nothing answers."""
        self.frozen = self._tree()
        for pid in self.frozen:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        # runuser stops itself when its child stops (job control): continue it as well
        wrapper = [self.proc.pid] if self.proc is not None and self.frozen else []
        for pid in [*self.frozen, *wrapper]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.frozen = []

    def create_db(self) -> str:
        import uuid

        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PgServer]:
    """This module's own PostgreSQL (password auth), running at the start of every test."""
    root = Path(tempfile.mkdtemp(prefix="costroute-pg-own-"))
    server = PgServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def pg(pg_server: PgServer) -> Iterator[PgServer]:
    """The module's server, put back running (thawed, restarted) after the test."""
    yield pg_server
    pg_server.thaw()
    if pg_server.proc is None:
        pg_server.start()


_LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@contextlib.contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """Another process holds the SQLite file's write lock (``BEGIN IMMEDIATE``) in the block."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _LOCKER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield
    finally:
        proc.stdin.write("\n")
        proc.stdin.close()
        proc.wait(20)
        proc.stdout.close()


def wait_until_ready(ledger: Ledger, within_s: float = 20.0) -> None:
    """Call ``ready()`` until it succeeds (a ledger backs off for a moment after a failure)."""
    import time

    from costroute import LedgerUnavailable

    deadline = time.monotonic() + within_s
    while True:
        try:
            ledger.ready()
            return
        except LedgerUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def assert_no_secret(exc: BaseException, secret: str) -> None:
    """``secret`` is nowhere in the exception, its chain, their args, attributes and tracebacks."""
    import traceback

    assert secret not in "".join(traceback.format_exception(exc))
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        texts = [str(e), repr(e), *(repr(a) for a in e.args), repr(getattr(e, "__dict__", {}))]
        texts += traceback.format_exception(e)
        for text in texts:
            assert secret not in text, text
        stack += [e.__cause__, e.__context__]
