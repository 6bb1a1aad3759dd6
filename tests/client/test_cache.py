"""The response cache through the client: tenant-safe, quality-aware, streamed, and accounted for."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from costroute import AsyncClient, Client, ProviderError
from costroute.cache import MemoryCacheStore
from costroute.spend import MemoryBudgetStore
from costroute.testing import FakeOpenAIServer

from .conftest import EASY, HARD


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def _config(server: FakeOpenAIServer, **extra) -> dict:
    return {
        "models": [
            {"name": "openai/cheap", "api_base": server.base_url, "api_key": "sk-cache-sentinel-42",
             "quality": 0.5, "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
            {"name": "openai/strong", "api_base": server.base_url, "api_key": "sk-cache-sentinel-42",
             "quality": 0.9, "price": {"input_per_mtok": 10, "output_per_mtok": 20}},
        ],
        "policies": {"default": {"baseline": "openai/strong"}},
        **extra,
    }


def test_a_repeat_is_served_from_the_cache_and_recorded(server, ledger) -> None:
    with Client(_config(server), ledger=ledger) as client:
        first = client.chat.completions.create(messages=EASY, temperature=0)
        again = client.chat.completions.create(messages=EASY, temperature=0)
    assert server.calls_for("cheap") == 1
    assert again.choices[0].message.content == first.choices[0].message.content
    hit = again.costroute
    assert hit.cache_hit and hit.cost_usd == 0 and hit.attempts == 0 and hit.model == "openai/cheap"
    assert hit.saved_usd == first.costroute.cost_usd  # what the routed model would have cost
    assert hit.usage.output_tokens == first.costroute.usage.output_tokens  # replayed, marked, unbilled
    statuses = [r.status for r in ledger.records()]
    assert statuses == ["ok", "cache_hit"]
    [row] = client.spend.summary()
    assert row.cache_hits == 1 and row.requests == 2
    assert row.cost_usd == ledger.records()[0].cost_usd


def test_each_hit_is_a_separate_response_that_callers_may_change(server, ledger) -> None:
    with Client(_config(server), ledger=ledger) as client:
        first = client.chat.completions.create(messages=EASY, temperature=0)
        hit = client.chat.completions.create(messages=EASY, temperature=0)
        hit.choices[0].message.content = "edited by the caller"
        hit.choices.append(hit.choices[0])
        hit.usage.completion_tokens = 0
        again = client.chat.completions.create(messages=EASY, temperature=0)
    assert type(again) is type(first) and again is not hit
    assert again.costroute.cache_hit and again.costroute.request_id != hit.costroute.request_id
    assert again.model_dump() == {**first.model_dump(), "id": again.id}  # as first answered
    assert again.choices[0].message.content == first.choices[0].message.content
    assert server.calls_for("cheap") == 1


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_refreshed_entry_is_what_later_hits_serve(server, ledger, tmp_path, backend) -> None:
    answers = iter(["Answer AAAA", "Answer BBBB"])  # the same length: only the content differs
    server.script("cheap", answer=lambda messages: next(answers))
    cache = {"backend": backend, "path": str(tmp_path / "c.sqlite3")} if backend == "sqlite" else {}
    with Client(_config(server, cache=cache), ledger=ledger) as client:
        tick = time.time()
        client._engine.cache._clock = lambda: tick  # a coarse clock: both writes in one tick
        ask = lambda **kw: client.chat.completions.create(messages=EASY, temperature=0, **kw)  # noqa: E731
        assert ask().choices[0].message.content == "Answer AAAA"
        assert ask().costroute.cache_hit
        assert ask(cache="refresh").choices[0].message.content == "Answer BBBB"
        hit = ask()
    assert hit.costroute.cache_hit and hit.choices[0].message.content == "Answer BBBB"


def test_a_large_cached_answer_is_served_whole_without_being_kept_twice(server, ledger) -> None:
    long_answer = "word " * 20_000  # ~100 KB: past the size whose response object is kept
    server.script("cheap", answer=long_answer)
    with Client(_config(server), ledger=ledger) as client:
        first = client.chat.completions.create(messages=EASY, temperature=0)
        hits = [client.chat.completions.create(messages=EASY, temperature=0) for _ in range(2)]
        kept = len(client._engine._answers._items)
    assert all(h.costroute.cache_hit for h in hits) and hits[0] is not hits[1]
    assert hits[1].choices[0].message.content == first.choices[0].message.content
    assert kept == 0 and server.calls_for("cheap") == 1


def test_only_deterministic_requests_are_cached(server, ledger) -> None:
    with Client(_config(server), ledger=ledger) as client:
        for _ in range(2):
            client.chat.completions.create(messages=EASY)  # no temperature given: not 0
        for _ in range(2):
            client.chat.completions.create(messages=EASY, seed=7)
        client.chat.completions.create(messages=EASY, seed=7, cache=False)
        client.chat.completions.create(messages=EASY, seed=7, cache="refresh")
        after = client.chat.completions.create(messages=EASY, seed=7)
    assert server.calls_for("cheap") == 2 + 1 + 1 + 1
    assert after.costroute.cache_hit


def test_tenants_never_share_answers(server, ledger) -> None:
    with Client(_config(server), ledger=ledger) as client:
        for user in ("u1", "u2", "u3", "u4", "u5"):
            for _ in range(3):
                resp = client.chat.completions.create(messages=EASY, temperature=0, tags={"user": user})
        resp = client.chat.completions.create(messages=EASY, temperature=0, tags={"user": "x"},
                                              cache_namespace="u1")
    assert server.calls_for("cheap") == 5
    assert resp.costroute.cache_hit  # an explicit namespace is honoured
    hits = [r for r in ledger.records() if r.status == "cache_hit"]
    assert len(hits) == 5 * 2 + 1


def test_a_cheap_answer_is_not_served_to_a_request_that_needs_more(server, ledger) -> None:
    shared = MemoryCacheStore(max_entries=100, max_bytes=10_000_000)
    squeezed = _config(server, budgets=[{"name": "b", "limit_usd": "0.0008", "period": "day",
                                          "on_exceed": "downgrade"}])
    squeezed["policies"]["default"]["max_output_tokens"] = 200
    with Client(squeezed, ledger=ledger, cache_store=shared, budget_store=MemoryBudgetStore()) as client:
        downgraded = client.chat.completions.create(messages=HARD, temperature=0)
    assert downgraded.costroute.model == "openai/cheap"
    with Client(_config(server), ledger=ledger, cache_store=shared) as client:
        full = client.chat.completions.create(messages=HARD, temperature=0)
        pinned = client.chat.completions.create(messages=HARD, temperature=0, model="openai/cheap")
        pinned_again = client.chat.completions.create(messages=HARD, temperature=0, model="openai/cheap")
    assert not full.costroute.cache_hit and full.costroute.model == "openai/strong"
    assert not pinned.costroute.cache_hit and pinned_again.costroute.cache_hit


def test_stream_hits_replay_as_a_stream_and_only_complete_streams_are_stored(server, ledger) -> None:
    server.script("cheap", answer="one two three four five six seven eight nine ten")
    with Client(_config(server), ledger=ledger) as client:
        text = "".join(c.choices[0].delta.content or "" for c in
                       client.chat.completions.create(messages=EASY, temperature=0, stream=True) if c.choices)
        replay = client.chat.completions.create(messages=EASY, temperature=0, stream=True)
        assert replay.costroute is not None and replay.costroute.cache_hit
        replayed = "".join(c.choices[0].delta.content or "" for c in replay if c.choices)
        assert replayed.strip() == text.strip()
        server.script("cheap", answer="a b c d e f g h i j k l", cut_stream_after=2)
        other = [{"role": "user", "content": "Name a colour."}]
        with pytest.raises(ProviderError):  # the cut stream surfaces as a provider error
            list(client.chat.completions.create(messages=other, temperature=0, stream=True))
        server.script("cheap", answer="blue")
        fresh = client.chat.completions.create(messages=other, temperature=0)
    assert not fresh.costroute.cache_hit  # the truncated stream was never stored


def test_concurrent_identical_requests_make_one_upstream_call(server, ledger) -> None:
    server.script("cheap", latency_s=0.2)
    results = []
    with Client(_config(server), ledger=ledger) as client:
        def ask() -> None:
            results.append(client.chat.completions.create(messages=EASY, temperature=0))

        threads = [threading.Thread(target=ask) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert server.calls_for("cheap") == 1
    assert len({r.choices[0].message.content for r in results}) == 1
    assert sum(r.costroute.cache_hit for r in results) == 31


async def test_async_client_uses_the_cache(server, ledger) -> None:
    client = AsyncClient(_config(server), ledger=ledger)
    first = await client.chat.completions.create(messages=EASY, temperature=0)
    again = await client.chat.completions.create(messages=EASY, temperature=0)
    stream = await client.chat.completions.create(messages=EASY, temperature=0, stream=True)
    chunks = [c async for c in stream]
    await client.aclose()
    assert server.calls_for("cheap") == 1 and again.costroute.cache_hit and chunks
    assert again.costroute.saved_usd == first.costroute.cost_usd > Decimal(0)


def test_cache_holds_no_api_key(server, ledger, tmp_path) -> None:
    config = _config(server, cache={"backend": "sqlite", "path": str(tmp_path / "cache.sqlite3")})
    with Client(config, ledger=ledger) as client:
        client.chat.completions.create(messages=EASY, temperature=0)
        assert client.chat.completions.create(messages=EASY, temperature=0).costroute.cache_hit
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"sk-cache-sentinel-42" not in blob and len(blob) > 0
