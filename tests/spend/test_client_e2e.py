"""End to end through ``costroute.Client`` and a loopback fake provider: what the client spends
is what the ledger records is what the budget counters hold, under concurrency and cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costroute import AsyncClient, BudgetExceeded, Client
from costroute.spend import (
    BudgetStore,
    Ledger,
    MemoryLedger,
    RedisBudgetStore,
    SQLiteBudgetStore,
    SQLiteLedger,
)
from costroute.testing import FakeOpenAIServer

EASY = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def config(server: FakeOpenAIServer, limit: str, **extra: Any) -> dict[str, Any]:
    return {
        "models": [
            {"name": "openai/cheap", "api_base": server.base_url, "api_key": "sk-loop",
             "quality": 0.5, "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
        ],
        "policies": {"default": {"max_output_tokens": 100, "retry": {"attempts_per_model": 1}}},
        "budgets": [{"name": "tight", "limit_usd": limit, "period": "day",
                     "alerts": [0.5, 1.0]}],
        **extra,
    }


def check_books(client: Client | AsyncClient, ledger: Ledger, limit: Decimal) -> Decimal:
    """Counter == ledger, nothing held, never over the limit. Returns what was spent."""
    assert client.budgets is not None
    (state,) = client.budgets.snapshot()
    assert state.reserved == 0
    assert state.spent <= limit
    assert sum((r.cost_usd for r in ledger.records()), Decimal(0)) == state.spent
    return state.spent


def test_threads_through_the_client(server: FakeOpenAIServer, tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    store = SQLiteBudgetStore(tmp_path / "budgets.sqlite3")
    alerts: list[float] = []
    client = Client(config(server, "0.0006"), ledger=ledger, budget_store=store,
                    on_budget_alert=lambda e: alerts.append(e.threshold))
    refused = []

    def work() -> None:
        for _ in range(3):
            try:
                client.chat.completions.create(messages=EASY)
            except BudgetExceeded as exc:
                refused.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent = check_books(client, ledger, Decimal("0.0006"))
    assert spent > 0 and len(ledger.records()) + len(refused) == 24
    # each threshold fires once if spend crossed it (how far it gets depends on how the threads
    # interleave: refused requests cost nothing), never twice
    assert alerts.count(0.5) == (1 if spent >= Decimal("0.0003") else 0) and alerts.count(1.0) <= 1
    for r in ledger.records():
        assert r.prompt_text is None and r.prompt_hash and r.cost_usd > 0
    client.close()
    store.close()
    ledger.close()


async def test_cli_reads_what_the_client_wrote(server: FakeOpenAIServer, tmp_path: Path) -> None:
    # AsyncClient: litellm's sync path calls asyncio.get_event_loop() from the main thread and
    # leaves that loop unclosed (a ResourceWarning, an error here); the async path does not.
    import typer

    from costroute.cli._spend import register

    ledger_path = tmp_path / "ledger.sqlite3"
    cfg = config(server, "1", ledger={"backend": "sqlite", "path": str(ledger_path)},
                 budget_store={"backend": "sqlite", "path": str(tmp_path / "b.sqlite3")})
    async with AsyncClient(cfg) as client:
        infos = [(await client.chat.completions.create(messages=EASY)).costroute
                 for _ in range(3)]
        client.spend.ledger.close()
        assert client.budgets is not None
        client.budgets.store.close()
    total = sum((i.cost_usd for i in infos), Decimal(0)).quantize(Decimal("0.000001"))
    app = typer.Typer()
    register(app)
    out = CliRunner().invoke(app, ["spend", "--ledger", str(ledger_path), "--format", "json"])
    assert out.exit_code == 0, out.output
    [row] = json.loads(out.output)
    assert row["requests"] == 3 and Decimal(row["cost_usd"]) == total
    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps(cfg))
    out = CliRunner().invoke(app, ["budget", "--config", str(cfg_file), "--format", "json"])
    assert out.exit_code == 0, out.output
    [state] = json.loads(out.output)
    assert Decimal(state["spent"]) == total and Decimal(state["reserved"]) == 0


@pytest.mark.redis
async def test_async_clients_share_a_redis_budget(
    server: FakeOpenAIServer, redis_url: str
) -> None:
    ledger = MemoryLedger()
    stores: list[BudgetStore] = [RedisBudgetStore(redis_url) for _ in range(2)]
    clients = [AsyncClient(config(server, "0.0008"), ledger=ledger, budget_store=s)
               for s in stores]

    async def work(client: AsyncClient) -> None:
        for _ in range(4):
            with contextlib.suppress(BudgetExceeded):
                await client.chat.completions.create(messages=EASY)

    await asyncio.gather(*(work(clients[i % 2]) for i in range(16)))
    check_books(clients[0], ledger, Decimal("0.0008"))
    for client, store in zip(clients, stores, strict=True):
        await client.aclose()
        assert isinstance(store, RedisBudgetStore)
        await store.aclose()


async def test_cancelled_async_requests_release(server: FakeOpenAIServer) -> None:
    server.script("cheap", latency_s=0.5)
    ledger = MemoryLedger()
    from costroute.spend import MemoryBudgetStore

    client = AsyncClient(config(server, "1"), ledger=ledger, budget_store=MemoryBudgetStore())
    tasks = [asyncio.create_task(client.chat.completions.create(messages=EASY)) for _ in range(5)]
    await asyncio.sleep(0.2)
    assert client.budgets is not None
    (held,) = client.budgets.snapshot()
    assert held.reserved > 0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    check_books(client, ledger, Decimal(1))
    await client.aclose()
