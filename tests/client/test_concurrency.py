"""Concurrency through the client (not timed): requests wait on each other's single-flight only when
both are cacheable and identical, and concurrent requests share kept-alive connections."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from costroute import AsyncClient, Client
from costroute.testing import FakeOpenAIServer

from .conftest import EASY

HELD_S = 1.0  # how long the fake holds each request open: long enough for all of them to arrive


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        fake.script("m", latency_s=HELD_S)
        yield fake


def _config(server: FakeOpenAIServer, *, cache: bool = True) -> dict[str, Any]:
    return {
        "models": [{"name": "openai/m", "api_base": server.base_url, "api_key": "sk-concurrency-test-1",
                    "quality": 0.9, "price": {"input_per_mtok": 1, "output_per_mtok": 2}}],
        "policies": {"default": {"baseline": "openai/m"}},
        "cache": {"enabled": cache},
    }


async def test_identical_uncacheable_requests_are_all_in_flight_at_once(server, ledger) -> None:
    n = 8
    async with AsyncClient(_config(server), ledger=ledger) as client:
        answers = await asyncio.gather(*(client.chat.completions.create(messages=EASY) for _ in range(n)))
    assert server.calls_for("m") == n
    assert server.peak_in_flight == n  # none waited for another's answer
    assert not any(a.costroute.cache_hit for a in answers)


async def test_identical_cacheable_requests_make_one_call(server, ledger) -> None:
    async with AsyncClient(_config(server), ledger=ledger) as client:
        first, second = await asyncio.gather(
            *(client.chat.completions.create(messages=EASY, temperature=0) for _ in range(2)))
    assert server.calls_for("m") == 1
    assert sorted([first.costroute.cache_hit, second.costroute.cache_hit]) == [False, True]
    assert first.choices[0].message.content == second.choices[0].message.content


async def test_different_cacheable_requests_do_not_wait_for_each_other(server, ledger) -> None:
    n = 6
    async with AsyncClient(_config(server), ledger=ledger) as client:
        await asyncio.gather(*(client.chat.completions.create(
            messages=[{"role": "user", "content": f"What is {i} + {i}?"}], temperature=0) for i in range(n)))
    assert server.calls_for("m") == n and server.peak_in_flight == n


async def test_a_cacheable_request_does_not_wait_for_an_identical_uncacheable_one(server, ledger) -> None:
    async with AsyncClient(_config(server), ledger=ledger) as client:
        await asyncio.gather(client.chat.completions.create(messages=EASY),
                             client.chat.completions.create(messages=EASY, temperature=0))
    assert server.calls_for("m") == 2 and server.peak_in_flight == 2


def test_sync_threads_with_identical_uncacheable_requests_are_all_in_flight(server, ledger) -> None:
    n = 6
    with Client(_config(server), ledger=ledger) as client:
        barrier = threading.Barrier(n)

        def ask() -> None:
            barrier.wait()
            client.chat.completions.create(messages=EASY)

        threads = [threading.Thread(target=ask) for _ in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert server.calls_for("m") == n and server.peak_in_flight == n


def test_sync_threads_with_identical_cacheable_requests_make_one_call(server, ledger) -> None:
    n = 4
    with Client(_config(server), ledger=ledger) as client:
        barrier = threading.Barrier(n)
        hits: list[bool] = []

        def ask() -> None:
            barrier.wait()
            hits.append(client.chat.completions.create(messages=EASY, seed=3).costroute.cache_hit)

        threads = [threading.Thread(target=ask) for _ in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert server.calls_for("m") == 1 and sorted(hits) == [False, True, True, True]


# -- connection pooling ------------------------------------------------------------------------------

def _unique(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Question {i}: what is {i} times 7?"}]


async def test_64_requests_in_flight_reuse_kept_alive_connections(server, ledger) -> None:
    server.script("m", latency_s=0.2)  # long enough that a wave overlaps at the fake on a loaded machine
    waves, width = 8, 64
    async with AsyncClient(_config(server), ledger=ledger) as client:
        for wave in range(waves):
            await asyncio.gather(*(client.chat.completions.create(messages=_unique(wave * width + i))
                                   for i in range(width)))
        [sdk] = client._engine.completer._clients.values()
        http = sdk._client
    assert server.calls_for("m") == waves * width and server.peak_in_flight > width // 2
    assert server.connections <= 0.2 * waves * width  # kept alive: ~one per request in flight, not per request
    assert http.is_closed and http._transport.client.closed  # the pool closed with the client


def test_sync_threads_reuse_kept_alive_connections(server, ledger) -> None:
    server.script("m", latency_s=0.01)
    threads_n, each = 12, 15
    with Client(_config(server), ledger=ledger) as client:
        def ask(t: int) -> None:
            for i in range(each):
                client.chat.completions.create(messages=_unique(t * each + i))

        threads = [threading.Thread(target=ask, args=(t,)) for t in range(threads_n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        [sdk] = client._engine.completer._clients.values()
    assert server.calls_for("m") == threads_n * each
    assert server.connections <= 0.2 * threads_n * each
    assert sdk._client.is_closed
