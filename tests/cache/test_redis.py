"""Redis specifics: native TTL, sharing between instances, secrets, lazy import."""

from __future__ import annotations

import time

import pytest

from costroute.cache import CacheConfig, RedisCacheStore, ResponseCache

from .conftest import SENTINEL, FakeClock, make_entry

pytestmark = pytest.mark.redis


def test_native_ttl_is_set(redis_url: str, clock: FakeClock) -> None:
    store = RedisCacheStore(redis_url, clock=clock)
    store.set(make_entry("cr1:t", expires_at=clock.now + 30))
    pttl = store._client.pttl("costroute:cache:e:cr1:t")
    assert 29_000 < pttl <= 30_000
    store.set(make_entry("cr1:forever"))
    assert store._client.pttl("costroute:cache:e:cr1:forever") == -1
    store.close()


def test_ttl_argument_caps_every_entry(redis_url: str, clock: FakeClock) -> None:
    store = RedisCacheStore(redis_url, ttl=5, clock=clock)
    store.set(make_entry("cr1:forever"))
    store.set(make_entry("cr1:long", expires_at=clock.now + 3600))
    for key in ("cr1:forever", "cr1:long"):
        assert 4_000 < store._client.pttl(f"costroute:cache:e:{key}") <= 5_000
    store.close()


def test_really_expires_in_redis(redis_url: str) -> None:
    store = RedisCacheStore(redis_url)
    store.set(make_entry("cr1:brief", expires_at=time.time() + 0.2))
    assert store.get("cr1:brief") is not None
    time.sleep(0.35)
    assert store.get("cr1:brief") is None
    assert store.stats().entries == 0 and store.stats().bytes == 0  # bookkeeping swept
    store.close()


def test_instances_share_entries_and_the_bound(redis_url: str) -> None:
    a = RedisCacheStore(redis_url, max_entries=3)
    b = RedisCacheStore(redis_url, max_entries=3)
    a.set(make_entry("cr1:1"))
    assert b.get("cr1:1") is not None
    for i in range(2, 6):
        b.set(make_entry(f"cr1:{i}"))
    assert a.stats().entries == 3
    assert a.get("cr1:1") is None
    a.close()
    b.close()


def test_prefixes_isolate_caches(redis_url: str) -> None:
    a = RedisCacheStore(redis_url, prefix="app-a:")
    b = RedisCacheStore(redis_url, prefix="app-b:")
    a.set(make_entry("cr1:k"))
    assert b.get("cr1:k") is None
    b.clear()
    assert a.get("cr1:k") is not None
    a.close()
    b.close()


def test_no_secret_in_redis_or_repr(redis_url: str) -> None:
    url_with_password = redis_url  # the server has no password; the sentinel goes elsewhere
    store = RedisCacheStore(url_with_password)
    cache = ResponseCache(store, CacheConfig())
    request = {"messages": [{"role": "user", "content": "hi"}], "seed": 1,
               "api_key": SENTINEL, "api_base": f"https://{SENTINEL}.example"}  # fmt: skip
    response = make_entry().response | {"_hidden_params": {"api_key": SENTINEL}}
    assert cache.store(
        request, policy="p", namespace="n", pinned_model=None, model="m", model_quality=0.5,
        response_dict=response, usage_dict=response["usage"], cost_usd="0.1",
        finish_reason="stop",
    ) is not None  # fmt: skip
    client = store._client
    keys = client.keys("*")
    assert keys
    for key in keys:
        assert SENTINEL.encode() not in key
        kind = client.type(key)
        if kind == b"string":
            values = [client.get(key)]
        elif kind == b"hash":
            values = list(client.hgetall(key).values())
        elif kind == b"set":
            values = list(client.smembers(key))
        else:
            values = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        assert all(SENTINEL.encode() not in v for v in values)
    secret_url = redis_url.replace("redis://", f"redis://:{SENTINEL}@")
    assert SENTINEL not in repr(RedisCacheStore(secret_url))
    store.close()


def test_unreachable_server_is_cache_unavailable() -> None:
    from costroute.cache import CacheUnavailable

    store = RedisCacheStore("redis://127.0.0.1:1/0")
    with pytest.raises(CacheUnavailable):
        store.get("cr1:x")
    store.close()
