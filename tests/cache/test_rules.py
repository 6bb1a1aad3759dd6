"""The pure caching rules and the config models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from costroute._errors import RequestValidationError
from costroute.cache import (
    CacheConfig,
    MemoryCacheStore,
    PolicyCacheConfig,
    RedisCacheStore,
    SQLiteCacheStore,
    default_sqlite_path,
    entry_expiry,
    is_cacheable,
    resolve_namespace,
    store_from_config,
    usable,
)

from .conftest import SENTINEL, make_entry

MSG = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("extra", "cacheable", "lookup"),
    [
        ({"temperature": 0}, True, True),
        ({"temperature": 0.0}, True, True),
        ({"seed": 7}, True, True),
        ({"temperature": 0.7, "seed": 7}, True, True),
        ({}, False, False),  # an omitted temperature is not 0
        ({"temperature": None}, False, False),
        ({"temperature": 0.2}, False, False),
        ({"temperature": False}, False, False),  # a bool is not a temperature
        ({"temperature": 0, "n": 3}, True, True),
        ({"temperature": 1, "n": 3}, False, False),
        ({"temperature": 1, "n": 3, "cache": True}, False, False),  # n>1 needs determinism
        ({"temperature": 1, "cache": True}, True, True),  # explicit opt-in
        ({"temperature": 0, "cache": False}, False, False),
        ({"temperature": 0, "cache": "refresh"}, True, False),
        ({"temperature": 0, "stream": True}, True, True),
    ],
)
def test_is_cacheable(extra: dict[str, Any], cacheable: bool, lookup: bool) -> None:
    decision = is_cacheable({"messages": MSG, **extra})
    ok, reason = decision
    assert ok is cacheable and isinstance(reason, str) and reason
    assert decision.lookup is lookup
    assert decision.store is cacheable


def test_is_cacheable_honours_config_and_policy() -> None:
    request = {"messages": MSG, "temperature": 0}
    off = CacheConfig(enabled=False)
    assert is_cacheable(request, config=off).cacheable is False
    assert is_cacheable(request, PolicyCacheConfig(enabled=True), config=off).cacheable
    assert not is_cacheable(request, PolicyCacheConfig(enabled=False)).cacheable
    assert is_cacheable(request, PolicyCacheConfig(enabled=None)).cacheable


def test_bad_cache_flag_is_a_request_error() -> None:
    with pytest.raises(RequestValidationError, match="cache"):
        is_cacheable({"messages": MSG, "cache": "sometimes"})


def test_usable_quality_pinning_and_expiry() -> None:
    entry = make_entry(model="cheap-model", quality=0.6, expires_at=2000.0)
    assert usable(entry, required_quality=0.5, pinned_model=None, now=1000.0)
    assert usable(entry, required_quality=0.6, pinned_model=None, now=1000.0)
    assert not usable(entry, required_quality=0.61, pinned_model=None, now=1000.0)
    assert usable(entry, required_quality=None, pinned_model=None, now=1000.0)
    assert usable(entry, required_quality=None, pinned_model="cheap-model", now=1000.0)
    assert not usable(entry, required_quality=None, pinned_model="other", now=1000.0)
    assert not usable(entry, required_quality=0.1, pinned_model=None, now=2000.0)
    assert not usable(entry, required_quality=None, pinned_model="cheap-model", now=2001.0)


def test_resolve_namespace() -> None:
    assert resolve_namespace(tags={"user": "u1"}, cache_namespace=None, namespace_tag="user") == "u1"
    assert resolve_namespace(tags={"team": "t"}, cache_namespace=None, namespace_tag="team") == "t"
    assert resolve_namespace(tags={"user": "u1"}, cache_namespace="x", namespace_tag="user") == "x"
    assert resolve_namespace(tags=None, cache_namespace=None, namespace_tag="user") == ""


def test_entry_expiry() -> None:
    assert entry_expiry(100.0, CacheConfig(), None) == 3700.0
    assert entry_expiry(100.0, CacheConfig(ttl_s=None), None) is None
    assert entry_expiry(100.0, CacheConfig(), PolicyCacheConfig(ttl_s=5)) == 105.0


@pytest.mark.parametrize(
    "bad",
    [
        {"ttl_s": 0},
        {"max_entries": 0},
        {"max_bytes": -1},
        {"backend": "memcached"},
        {"unknown": 1},
        {"backend": "redis"},  # needs url
        {"backend": "memory", "url": "redis://x"},
        {"backend": "memory", "path": "/tmp/x"},
        {"namespace_tag": ""},
    ],
)
def test_bad_config_is_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CacheConfig(**bad)


def test_config_is_frozen_and_hides_the_url() -> None:
    cfg = CacheConfig(backend="redis", url=f"redis://:{SENTINEL}@localhost:6379/0")
    assert SENTINEL not in repr(cfg) and SENTINEL not in str(cfg.model_dump())
    with pytest.raises(ValidationError):
        cfg.enabled = False  # type: ignore[misc]
    with pytest.raises(ValidationError):
        PolicyCacheConfig(ttl_s=0)
    with pytest.raises(ValidationError):
        PolicyCacheConfig(extra=1)  # type: ignore[call-arg]


def test_default_sqlite_path(tmp_path: Path) -> None:
    assert default_sqlite_path({"COSTROUTE_HOME": str(tmp_path)}) == tmp_path / "cache.sqlite3"
    assert default_sqlite_path({}) == (
        Path.home() / ".local" / "share" / "costroute" / "cache.sqlite3"
    )


def test_store_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = store_from_config(CacheConfig())
    assert isinstance(memory, MemoryCacheStore)
    sqlite = store_from_config(CacheConfig(backend="sqlite", path=str(tmp_path / "c.db")))
    assert isinstance(sqlite, SQLiteCacheStore) and sqlite.path == tmp_path / "c.db"
    sqlite.close()
    monkeypatch.setenv("COSTROUTE_HOME", str(tmp_path / "home"))
    default = store_from_config(CacheConfig(backend="sqlite"))
    assert isinstance(default, SQLiteCacheStore)
    assert default.path == tmp_path / "home" / "cache.sqlite3"
    default.close()


@pytest.mark.redis
def test_store_from_config_redis(redis_url: str) -> None:
    store = store_from_config(CacheConfig(backend="redis", url=redis_url))
    assert isinstance(store, RedisCacheStore)
    assert redis_url not in repr(store)
    store.close()
