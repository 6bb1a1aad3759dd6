"""ResponseCache: the facade the client drives (rules + key + store + single-flight)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from costroute.cache import (
    CacheConfig,
    CacheEntry,
    CacheStats,
    CacheUnavailable,
    MemoryCacheStore,
    PolicyCacheConfig,
    ResponseCache,
    StreamAccumulator,
    replay_chunks,
)

from .conftest import FakeClock, StoreFactory, make_response

REQUEST: dict[str, Any] = {
    "model": "auto",
    "messages": [{"role": "user", "content": "Summarise the plot of Hamlet."}],
    "temperature": 0,
}
ROUTED = {"policy": "default", "pinned_model": None}


def _store(cache: ResponseCache, request: dict[str, Any], namespace: str, *, text: str = "ok",
           model: str = "small", quality: float = 0.6, pinned_model: str | None = None,
           **kw: Any) -> CacheEntry | None:  # fmt: skip
    response = make_response(text, model=model)
    return cache.store(
        request, policy="default", namespace=namespace, pinned_model=pinned_model, model=model,
        model_quality=quality, response_dict=response, usage_dict=response["usage"],
        cost_usd="0.002", finish_reason="stop", **kw,
    )  # fmt: skip


def _text(entry: CacheEntry | None) -> str | None:
    return None if entry is None else str(entry.response["choices"][0]["message"]["content"])


def test_miss_store_hit(clock: FakeClock) -> None:
    cache = ResponseCache(MemoryCacheStore(clock=clock), CacheConfig(), clock=clock)
    assert cache.lookup(REQUEST, namespace="a", required_quality=0.5, **ROUTED) is None
    stored = _store(cache, REQUEST, "a", text="hello")
    assert stored is not None and stored.expires_at == clock.now + 3600
    hit = cache.lookup(REQUEST, namespace="a", required_quality=0.5, **ROUTED)
    assert hit == stored and _text(hit) == "hello"
    assert cache.counters.hits == 1 and cache.counters.misses == 1 and cache.counters.stored == 1


def test_five_tenants_never_see_each_other(make_store: StoreFactory) -> None:
    cache = ResponseCache(make_store(), CacheConfig())
    tenants = [f"tenant-{i}" for i in range(5)]
    for tenant in tenants:
        assert cache.lookup(REQUEST, namespace=tenant, required_quality=None, **ROUTED) is None
        _store(cache, REQUEST, tenant, text=f"secret of {tenant}")
    for _ in range(3):
        for tenant in tenants:
            hit = cache.lookup(REQUEST, namespace=tenant, required_quality=None, **ROUTED)
            assert _text(hit) == f"secret of {tenant}"
            assert hit is not None and hit.namespace == tenant
    assert cache.lookup(REQUEST, namespace="tenant-x", required_quality=None, **ROUTED) is None
    assert cache.counters.hits == 15  # 5 first misses + 1 stranger: zero cross-tenant hits
    assert cache.counters.misses == 6


def test_entry_from_another_namespace_under_the_same_key_is_refused() -> None:
    store = MemoryCacheStore()
    cache = ResponseCache(store)
    entry = _store(cache, REQUEST, "alice")
    assert entry is not None
    key = cache.key_for(REQUEST, namespace="bob", **ROUTED)
    assert key is not None
    store.set(replace(entry, key=key))  # a forged entry: bob's key, alice's namespace
    assert cache.lookup(REQUEST, namespace="bob", required_quality=None, **ROUTED) is None


def test_quality_aware_hits() -> None:
    cache = ResponseCache(MemoryCacheStore())
    _store(cache, REQUEST, "a", text="cheap answer", quality=0.6)
    assert _text(cache.lookup(REQUEST, namespace="a", required_quality=0.5, **ROUTED)) == (
        "cheap answer"
    )
    assert cache.lookup(REQUEST, namespace="a", required_quality=0.8, **ROUTED) is None
    _store(cache, REQUEST, "a", text="strong answer", model="big", quality=0.9)
    assert _text(cache.lookup(REQUEST, namespace="a", required_quality=0.8, **ROUTED)) == (
        "strong answer"
    )


def test_pinned_requests_only_hit_their_model() -> None:
    cache = ResponseCache(MemoryCacheStore())
    _store(cache, REQUEST, "a", text="routed", model="gpt-4o")
    pinned = {"policy": "default", "pinned_model": "gpt-4o"}
    assert cache.lookup(REQUEST, namespace="a", required_quality=None, **pinned) is None
    _store(cache, REQUEST, "a", text="pinned", model="gpt-4o", pinned_model="gpt-4o")
    assert _text(cache.lookup(REQUEST, namespace="a", required_quality=None, **pinned)) == "pinned"
    other = {"policy": "default", "pinned_model": "claude-3-5-haiku"}
    assert cache.lookup(REQUEST, namespace="a", required_quality=None, **other) is None


def test_ttl_from_config_and_policy(clock: FakeClock) -> None:
    cache = ResponseCache(MemoryCacheStore(clock=clock), CacheConfig(ttl_s=60), clock=clock)
    _store(cache, REQUEST, "a")
    other = {**REQUEST, "seed": 3}
    _store(cache, other, "a", policy_cfg=PolicyCacheConfig(ttl_s=10))
    clock.advance(10)
    assert cache.lookup(other, namespace="a", required_quality=None, **ROUTED) is None
    assert cache.lookup(REQUEST, namespace="a", required_quality=None, **ROUTED) is not None
    clock.advance(50)
    assert cache.lookup(REQUEST, namespace="a", required_quality=None, **ROUTED) is None


def test_bypass_rules() -> None:
    cache = ResponseCache(MemoryCacheStore())
    nondeterministic = {**REQUEST, "temperature": 0.7}
    assert _store(cache, nondeterministic, "a") is None
    assert cache.lookup(nondeterministic, namespace="a", required_quality=None, **ROUTED) is None
    assert _store(cache, {**REQUEST, "cache": False}, "a") is None
    assert _store(cache, REQUEST, "a", text="old") is not None
    refresh = {**REQUEST, "cache": "refresh"}
    assert cache.lookup(refresh, namespace="a", required_quality=None, **ROUTED) is None
    assert _store(cache, refresh, "a", text="new") is not None  # refresh stores...
    hit = cache.lookup(REQUEST, namespace="a", required_quality=None, **ROUTED)
    assert _text(hit) == "new"  # ...over the old entry (the cache flag is not key material)
    assert _store(cache, {**REQUEST, "x": object()}, "a") is None  # no JSON form
    disabled = ResponseCache(MemoryCacheStore(), CacheConfig(enabled=False))
    assert _store(disabled, REQUEST, "a") is None
    assert cache.counters.bypassed == 2


def test_incomplete_responses_are_never_stored() -> None:
    cache = ResponseCache(MemoryCacheStore())
    acc = StreamAccumulator()
    chunks = replay_chunks(_full_entry())
    for chunk in chunks[:-1]:  # the usage chunk never arrived
        acc.feed(chunk)
    response = acc.response()
    assert response is None
    assert cache.store(
        REQUEST, policy="default", namespace="a", pinned_model=None, model="m",
        model_quality=0.5, response_dict=response or {}, usage_dict={}, cost_usd="0",
        finish_reason=acc.finish_reason,
    ) is None  # fmt: skip
    assert cache.backend.stats().entries == 0


def _full_entry() -> CacheEntry:
    cache = ResponseCache(MemoryCacheStore())
    entry = _store(cache, REQUEST, "a")
    assert entry is not None
    return entry


class _BrokenStore(MemoryCacheStore):
    def get(self, key: str) -> CacheEntry | None:
        raise CacheUnavailable("down")

    def set(self, entry: CacheEntry) -> None:
        raise CacheUnavailable("down")


def test_a_broken_store_never_fails_the_request(caplog: pytest.LogCaptureFixture) -> None:
    cache = ResponseCache(_BrokenStore())
    with caplog.at_level("WARNING", logger="costroute.cache"):
        assert cache.lookup(REQUEST, namespace="a", required_quality=None, **ROUTED) is None
        assert _store(cache, REQUEST, "a") is None
    assert cache.counters.errors == 2
    assert "continuing uncached" in caplog.text


def _serve(cache: ResponseCache, upstream: Any, namespace: str = "a") -> str | None:
    """What the client does: lookup, then single-flight, re-lookup, call, store."""
    kw: dict[str, Any] = {"policy": "default", "namespace": namespace, "pinned_model": None}
    entry = cache.lookup(REQUEST, required_quality=0.5, **kw)
    if entry is None:
        with cache.single_flight(cache.key_for(REQUEST, **kw)):
            entry = cache.lookup(REQUEST, required_quality=0.5, **kw)
            if entry is None:
                text = upstream()
                entry = _store(cache, REQUEST, namespace, text=text)
    return _text(entry)


def test_single_flight_32_threads_one_upstream_call(make_store: StoreFactory) -> None:
    cache = ResponseCache(make_store(), CacheConfig())
    calls = 0
    calls_lock = threading.Lock()
    barrier = threading.Barrier(32)

    def upstream() -> str:
        nonlocal calls
        with calls_lock:
            calls += 1
        time.sleep(0.05)
        return "the one answer"

    results: list[str | None] = []

    def worker() -> None:
        barrier.wait()
        results.append(_serve(cache, upstream))

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == 1
    assert results == ["the one answer"] * 32
    stats: CacheStats = cache.backend.stats()
    assert stats.entries == 1
    assert len(cache._thread_locks) == 0  # no lock left behind
    hit = cache.lookup(REQUEST, namespace="a", required_quality=None, **ROUTED)
    assert hit is not None and CacheEntry.from_bytes(hit.to_bytes()) == hit


def test_single_flight_keys_do_not_block_each_other() -> None:
    cache = ResponseCache(MemoryCacheStore())
    with cache.single_flight("cr1:a"):
        done = threading.Event()

        def other() -> None:
            with cache.single_flight("cr1:b"):
                done.set()

        thread = threading.Thread(target=other)
        thread.start()
        assert done.wait(5)
        thread.join()
    with cache.single_flight(None):
        pass


async def test_async_single_flight_32_tasks(make_store: StoreFactory) -> None:
    store = make_store()
    cache = ResponseCache(store, CacheConfig())
    calls = 0
    kw: dict[str, Any] = {"policy": "default", "namespace": "a", "pinned_model": None}

    async def serve() -> str | None:
        nonlocal calls
        entry = await cache.alookup(REQUEST, required_quality=None, **kw)
        if entry is None:
            async with cache.asingle_flight(cache.key_for(REQUEST, **kw)):
                entry = await cache.alookup(REQUEST, required_quality=None, **kw)
                if entry is None:
                    calls += 1
                    await asyncio.sleep(0.05)
                    response = make_response("async answer")
                    entry = await cache.astore(
                        REQUEST, model="m", model_quality=0.5, response_dict=response,
                        usage_dict=response["usage"], cost_usd="0.01", finish_reason="stop", **kw,
                    )  # fmt: skip
        return _text(entry)

    try:
        results = await asyncio.gather(*(serve() for _ in range(32)))
    finally:
        await store.aclose()
    assert calls == 1
    assert results == ["async answer"] * 32
    assert len(cache._task_locks) == 0
