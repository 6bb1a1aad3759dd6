"""Budget counters survive their store (#14.3) and settles survive a store outage (#14.6).

Against a real redis-server this test starts, stops and restarts itself (no persistence unless
it asks for a dump), SQLite files and the memory store, through ``costroute.Client`` and the
loopback fake provider.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costroute import AsyncClient, BudgetExceeded, BudgetStoreUnavailable, Client
from costroute.spend import (
    BudgetConfig,
    Budgets,
    BudgetStore,
    Ledger,
    MemoryBudgetStore,
    MemoryLedger,
    RedisBudgetStore,
    SQLiteBudgetStore,
    SQLiteLedger,
)
from costroute.spend._seeding import StoreUnseeded
from costroute.testing import FakeOpenAIServer

from .conftest import make_record

EASY = [{"role": "user", "content": "What is the capital of France?"}]
LIMIT = Decimal("0.05")


class RedisProc:
    """A redis-server of the test's own on a fixed port, to stop and start at will."""

    def __init__(self, root: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed")
        self.exe, self.dir = exe, root
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--dbfilename", "dump.rdb"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self, *, keep_data: bool = False) -> None:
        """Shut the server down: with ``keep_data`` its data is dumped and reloaded on start;
        otherwise it comes back empty (a restart without persistence)."""
        import redis

        assert self.proc is not None
        client = redis.Redis.from_url(self.url)
        try:
            client.shutdown(save=keep_data, nosave=not keep_data)
        except redis.ConnectionError:
            pass
        finally:
            client.close()
        self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture()
def redis_proc(tmp_path: Path) -> Iterator[RedisProc]:
    proc = RedisProc(tmp_path)
    proc.start()
    try:
        yield proc
    finally:
        proc.close()


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def config(server: FakeOpenAIServer) -> dict[str, Any]:
    # a reservation is ~$0.011 and an answer ~$0.002: about 25 answers fit in $0.05
    return {
        "models": [{"name": "openai/cheap", "api_base": server.base_url, "api_key": "sk-loop",
                    "quality": 0.5, "price": {"input_per_mtok": 100, "output_per_mtok": 100}}],
        "policies": {"default": {"max_output_tokens": 100, "retry": {"attempts_per_model": 1}}},
        "budgets": [{"name": "tight", "limit_usd": str(LIMIT), "period": "day"}],
    }


def spent_in(ledger: Ledger) -> Decimal:
    return sum((r.cost_usd for r in ledger.records()), Decimal(0))


def counter(client: Client | AsyncClient) -> Decimal:
    assert client.budgets is not None
    (state,) = client.budgets.snapshot()
    return state.spent


def spend_until_refused(client: Client, most: int) -> int:
    for i in range(most):
        try:
            client.chat.completions.create(messages=EASY)
        except BudgetExceeded:
            return i
    return most


# -- the store operations --------------------------------------------------------------------
@pytest.fixture(params=["memory", "sqlite", "redis"])
def fresh_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BudgetStore]:
    store: BudgetStore
    if request.param == "memory":
        store = MemoryBudgetStore()
    elif request.param == "sqlite":
        store = SQLiteBudgetStore(tmp_path / "b.sqlite3")
    else:
        store = RedisBudgetStore(request.getfixturevalue("redis_url"))
    yield store
    store.close()


def test_guarded_operations_refuse_an_unseeded_store(fresh_store: BudgetStore) -> None:
    b = Budgets([BudgetConfig(name="g", limit_usd=Decimal(1), period="day")], fresh_store)
    (key,) = b.keys_for()
    with pytest.raises(StoreUnseeded):
        fresh_store.reserve("r1", [key], 10, now=time.time(), ttl_s=60, guarded=True)
    with pytest.raises(StoreUnseeded):
        fresh_store.settle("r1", [key], 10, guarded=True)
    assert fresh_store.snapshot([key])[0].spent == 0  # nothing changed
    fresh_store.settle("u", [key], 7)  # an unguarded writer (no ledger) is not refused
    assert fresh_store.seed_all([(key, 5)]) is True
    assert fresh_store.snapshot([key])[0].spent == Decimal("0.000007")  # never lowered
    assert fresh_store.seed_all([(key, 900)]) is False  # once
    assert fresh_store.snapshot([key])[0].spent == Decimal("0.000007")
    fresh_store.settle("r1", [key], 10, guarded=True)
    assert fresh_store.snapshot([key])[0].spent == Decimal("0.000017")


def test_an_old_sqlite_file_with_counters_counts_as_seeded(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "b.sqlite3"
    SQLiteBudgetStore(path).close()
    with sqlite3.connect(path) as conn:  # back to the schema before the marker, with a counter
        conn.execute("DROP TABLE budget_meta")
        conn.execute("DELETE FROM costroute_migrations WHERE component = 'budgets' AND version = 2")
        conn.execute("INSERT INTO budget_counters (key_id, spent) VALUES ('x', 3)")
    store = SQLiteBudgetStore(path)
    b = Budgets([BudgetConfig(name="g", limit_usd=Decimal(1), period="day")], store)
    (key,) = b.keys_for()
    store.settle("r", [key], 4, guarded=True)  # no StoreUnseeded
    assert store.seed_all([(key, 100)]) is False
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_many_processes_starting_at_once_seed_once(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    ledger = MemoryLedger()
    now = datetime.now(timezone.utc)
    ledger.append_many(make_record(i, ts=now, cost_usd=Decimal("0.001")) for i in range(30))
    cfg = [BudgetConfig(name="g", limit_usd=Decimal(1), period="day")]
    stores: list[BudgetStore] = []
    for _ in range(8):
        stores.append(SQLiteBudgetStore(tmp_path / "b.sqlite3") if kind == "sqlite"
                      else RedisBudgetStore(request.getfixturevalue("redis_url")))
    seeded: list[bool] = []
    barrier = threading.Barrier(len(stores))

    def start(store: BudgetStore) -> None:
        b = Budgets(cfg, store, ledger=ledger)
        barrier.wait()
        with b.reserve(request_id=f"x{id(store)}", amount=Decimal("0.01")):
            pass
        seeded.append(b.seed())  # a no-op by now

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seeded == [False] * 8
    b = Budgets(cfg, stores[0])
    (state,) = b.snapshot()
    assert state.spent == Decimal("0.030") and state.reserved == 0
    for s in stores:
        s.close()


# -- #14.3 through the client: a restart without persistence -----------------------------------
def test_a_redis_restart_without_persistence_never_lets_the_budget_overspend(
    server: FakeOpenAIServer, redis_proc: RedisProc, tmp_path: Path
) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    store, other_store = RedisBudgetStore(redis_proc.url), RedisBudgetStore(redis_proc.url)
    client = Client(config(server), ledger=ledger, budget_store=store)
    assert spend_until_refused(client, 8) == 8
    before = spent_in(ledger)
    assert before > 0 and counter(client) == before
    redis_proc.stop()  # every counter is gone
    redis_proc.start()
    answered = spend_until_refused(client, 100)
    assert 0 < answered < 100  # the budget ran out again, at the same limit
    assert counter(client) == spent_in(ledger) <= LIMIT
    assert spent_in(ledger) > LIMIT - Decimal("0.011")  # and was used up to the last reservation
    assert server.calls_for("cheap") == 8 + answered
    # a second wipe mid-life, and a new client (a new process) on the wiped store
    redis_proc.stop()
    redis_proc.start()
    other = Client(config(server), ledger=ledger, budget_store=other_store)
    with pytest.raises(BudgetExceeded):
        other.chat.completions.create(messages=EASY)
    assert counter(other) == spent_in(ledger) <= LIMIT
    client.close()
    other.close()
    store.close()
    other_store.close()


def test_a_new_sqlite_store_is_seeded_from_the_ledger(server: FakeOpenAIServer, tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    first = Client(config(server), ledger=ledger, budget_store=SQLiteBudgetStore(tmp_path / "a.sqlite3"))
    spend_until_refused(first, 100)
    first.close()
    spent = spent_in(ledger)
    assert spent > LIMIT - Decimal("0.011")
    # the budget store file is lost; a new one starts from the ledger, not from $0
    second = Client(config(server), ledger=SQLiteLedger(tmp_path / "ledger.sqlite3"),
                    budget_store=SQLiteBudgetStore(tmp_path / "b.sqlite3"))
    with pytest.raises(BudgetExceeded):
        second.chat.completions.create(messages=EASY)
    assert counter(second) == spent
    second.close()


# -- #14.6: the store goes away while the provider answers --------------------------------------
def stop_during_answer(server: FakeOpenAIServer, redis_proc: RedisProc, *, keep_data: bool) -> list[int]:
    calls: list[int] = []

    def answer(messages: list[dict[str, Any]]) -> str:
        calls.append(1)
        if len(calls) == 3:
            redis_proc.stop(keep_data=keep_data)
        return "Paris is the capital of France."

    server.script("cheap", answer=answer)
    return calls


@pytest.mark.parametrize("keep_data", [True, False], ids=["back-intact", "back-wiped"])
def test_an_answer_paid_for_during_an_outage_reaches_the_caller_and_is_counted_once(
    server: FakeOpenAIServer, redis_proc: RedisProc, tmp_path: Path, keep_data: bool
) -> None:
    calls = stop_during_answer(server, redis_proc, keep_data=keep_data)
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    store = RedisBudgetStore(redis_proc.url, socket_timeout=2)
    client = Client(config(server), ledger=ledger, budget_store=store)
    for _ in range(3):  # the third is answered while the store goes away: still delivered
        reply = client.chat.completions.create(messages=EASY)
        assert reply.choices[0].message.content == "Paris is the capital of France."
    assert client.budgets is not None and len(client.budgets.pending) == 1
    with pytest.raises(BudgetStoreUnavailable):  # new requests fail closed, nothing is sent
        client.chat.completions.create(messages=EASY)
    assert len(calls) == 3
    redis_proc.start()
    client.chat.completions.create(messages=EASY)
    assert len(client.budgets.pending) == 0
    assert len(ledger.records()) == 4
    assert counter(client) == spent_in(ledger)  # the outage's answer counted, once
    (state,) = client.budgets.snapshot()
    assert state.reserved == 0
    client.close()
    store.close()


def test_the_async_client_keeps_the_settle_of_an_outage_too(
    server: FakeOpenAIServer, redis_proc: RedisProc, tmp_path: Path
) -> None:
    stop_during_answer(server, redis_proc, keep_data=True)
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")

    async def main() -> None:
        store = RedisBudgetStore(redis_proc.url, socket_timeout=2)
        client = AsyncClient(config(server), ledger=ledger, budget_store=store)
        for _ in range(3):
            await client.chat.completions.create(messages=EASY)
        assert client.budgets is not None and len(client.budgets.pending) == 1
        with pytest.raises(BudgetStoreUnavailable):
            await client.chat.completions.create(messages=EASY)
        await asyncio.to_thread(redis_proc.start)
        await client.chat.completions.create(messages=EASY)
        assert len(client.budgets.pending) == 0
        assert counter(client) == spent_in(ledger)
        await client.aclose()
        await store.aclose()

    asyncio.run(main())


def test_the_pending_queue_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    class Down(MemoryBudgetStore):
        def settle(self, *args: Any, **kwargs: Any) -> list[int]:
            raise BudgetStoreUnavailable("down")

    b = Budgets([BudgetConfig(name="g", limit_usd=Decimal(1), period="day")], Down(), max_pending=2)
    holds = [b.reserve(request_id=f"r{i}", amount=Decimal("0.01")) for i in range(3)]
    for h in holds:
        h.settle(Decimal("0.001"))
        assert h.state == "settled"
    assert len(b.pending) == 2
    assert b.pending.total() == 2000
    assert "dropped" in caplog.text
    with pytest.raises(BudgetStoreUnavailable):  # fail closed while settles wait
        b.reserve(request_id="new", amount=Decimal("0.01"))


def test_async_snapshot(redis_url: str) -> None:
    async def main() -> None:
        store = RedisBudgetStore(redis_url)
        b = Budgets([BudgetConfig(name="g", limit_usd=Decimal(1), period="day")], store,
                    ledger=MemoryLedger())
        hold = await b.areserve(request_id="r", amount=Decimal("0.5"))
        (state,) = await b.asnapshot()
        assert (state.spent, state.reserved) == (0, Decimal("0.5"))
        await hold.asettle(Decimal("0.25"))
        assert [s.spent for s in await b.asnapshot()] == [Decimal("0.25")]
        assert await Budgets(b.budgets, MemoryBudgetStore()).asnapshot() != []
        await store.aclose()

    asyncio.run(main())


def test_first_use_of_a_store_from_many_threads_at_once(fresh_store: BudgetStore) -> None:
    # a thread that saw the Redis client before its scripts raised a raw KeyError('g_reserve')
    b = Budgets([BudgetConfig(name="g", limit_usd=Decimal(1), period="day")], fresh_store)
    (key,) = b.keys_for()
    fresh_store.seed_all([(key, 0)])
    start, errors = threading.Barrier(32), []

    def first_call(i: int) -> None:
        start.wait()
        try:
            fresh_store.reserve(f"r{i}", [key], 10, now=time.time(), ttl_s=60, guarded=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_call, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert fresh_store.snapshot([key])[0].reserved == Decimal("0.000320")
