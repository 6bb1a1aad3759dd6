"""``costroute serve`` as a process: SIGTERM drains in-flight streams, and ``--workers 2`` shares
SQLite state (500 concurrent streams, every one booked once, budgets held, no hold left)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from costroute.spend import BudgetConfig, Budgets, RedisBudgetStore, SQLiteLedger
from costroute.testing import FakeOpenAIServer

from .conftest import ANSWER, EASY, UPSTREAM_KEY, pool

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, config: dict[str, Any], tmp: Path, *, workers: int = 1) -> None:
        self.path = tmp / "costroute.yaml"
        self.path.write_text(yaml.safe_dump(config))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "serve.log"
        env = {**os.environ, "PYTHONPATH": SRC}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from costroute.cli import main; main()", "serve", "--config", str(self.path),
                 "--port", str(self.port), "--workers", str(workers), "--drain-timeout", "20"],
                stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"costroute serve did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


@pytest.fixture()
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def _shared(fake: FakeOpenAIServer, tmp: Path, **extra: Any) -> dict[str, Any]:
    return pool(fake, ledger={"backend": "sqlite", "path": str(tmp / "ledger.db")},
                budget_store={"backend": "sqlite", "path": str(tmp / "budgets.db")},
                cache={"enabled": False}, **extra)


def test_sigterm_lets_an_in_flight_stream_finish_and_books_it(fake: FakeOpenAIServer, tmp_path: Path) -> None:
    fake.script("cheap-model", answer=" ".join([ANSWER] * 4), chunk_delay_s=0.1)  # ~20 events, 2 s
    served = Served(_shared(fake, tmp_path), tmp_path)
    lines: list[str] = []
    first = threading.Event()

    def read() -> None:
        with httpx.stream("POST", served.url + "/v1/chat/completions", timeout=60,
                          json={"messages": EASY, "stream": True}) as resp:
            for line in resp.iter_lines():
                lines.append(line)
                first.set()

    reader = threading.Thread(target=read)
    try:
        reader.start()
        assert first.wait(60)
        code = served.stop()  # SIGTERM while the stream is being read
    finally:
        reader.join(60)
        served.stop()
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it drained for
    assert "data: [DONE]" in lines
    text = "".join(json.loads(x[6:])["choices"][0]["delta"].get("content", "")
                   for x in lines if x.startswith("data: {"))
    assert text.strip() == " ".join([ANSWER] * 4)
    [record] = SQLiteLedger(tmp_path / "ledger.db").records()
    assert record.status == "ok" and not record.estimated


@pytest.mark.slow
@pytest.mark.redis
def test_500_concurrent_streams_through_2_workers(fake: FakeOpenAIServer, tmp_path: Path, redis_url: str) -> None:
    """The proof of the issue: all complete, exactly 500 records, budget never exceeded, no hold left.
    Two worker processes share a SQLite ledger and a Redis budget store."""
    limit = Decimal("3")
    fake.script("cheap-model", answer="The answer is four, as it has always been.")
    config = _shared(fake, tmp_path, budgets=[{"name": "shared", "limit_usd": str(limit)}])
    # a worker's event loop 250 streams deep can take longer than 5 s to read a Redis reply here
    config["budget_store"] = {"backend": "redis", "url": redis_url, "timeout_s": 60}
    # 2 cores shared with other work: each worker runs 64 requests at once and queues the rest (before
    # anything is reserved), so its event loop is not 250 litellm calls behind its own timeouts
    config["server"] = {"max_in_flight": 64, "queue_timeout_s": 240}
    config["ledger"]["timeout_s"] = 30
    served = Served(config, tmp_path, workers=2)
    try:
        async def one(http: httpx.AsyncClient, i: int) -> tuple[str, bool]:
            body = {"messages": [{"role": "user", "content": f"Question {i}: what is {i} + {i}?"}],
                    "stream": True, "model": "cheap", "max_tokens": 50}
            async with http.stream("POST", "/v1/chat/completions", json=body) as resp:
                assert resp.status_code == 200, await resp.aread()
                rid = resp.headers["x-costroute-request-id"]
                done = [line async for line in resp.aiter_lines() if line == "data: [DONE]"]
            return rid, bool(done)

        async def all_of_them() -> list[tuple[str, bool]]:
            limits = httpx.Limits(max_connections=500, max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=served.url, timeout=300, limits=limits) as http:
                return await asyncio.gather(*(one(http, i) for i in range(500)))

        started = time.monotonic()
        results = asyncio.run(all_of_them())
        took = time.monotonic() - started
        metrics = httpx.get(served.url + "/metrics").text
    finally:
        assert served.stop() in (0, -signal.SIGTERM)
    assert all(done for _, done in results) and len({rid for rid, _ in results}) == 500
    records = SQLiteLedger(tmp_path / "ledger.db").records()
    assert len(records) == 500 and {r.request_id for r in records} == {rid for rid, _ in results}
    assert all(r.status == "ok" for r in records)
    store = RedisBudgetStore(redis_url)
    try:
        [state] = Budgets([BudgetConfig(name="shared", limit_usd=limit)], store).snapshot()
    finally:
        store.close()
    assert state.reserved == 0 and state.spent == sum(r.cost_usd for r in records) <= limit
    assert 'costroute_requests_total{model="openai/cheap-model",policy="cheap",status="ok"} 500.0' in metrics
    assert UPSTREAM_KEY not in metrics
    print(f"500 concurrent streams through 2 workers in {took:.1f} s")
