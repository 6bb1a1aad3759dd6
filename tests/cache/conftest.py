"""Fixtures for the cache tests: a fake clock, entries, and one store per backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from costroute.cache import CacheEntry, CacheStore, MemoryCacheStore, SQLiteCacheStore

SENTINEL = "sk-SENTINEL-4f1c9a-do-not-store"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_response(text: str = "Hello there, world!", *, model: str = "gpt-4o-mini") -> dict[str, Any]:
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
    }


def make_entry(
    key: str = "cr1:abc",
    *,
    namespace: str = "alice",
    text: str = "Hello there, world!",
    model: str = "gpt-4o-mini",
    quality: float = 0.7,
    created_at: float = 1_000_000.0,
    expires_at: float | None = None,
) -> CacheEntry:
    response = make_response(text, model=model)
    return CacheEntry.create(
        key=key,
        namespace=namespace,
        model=model,
        model_quality=quality,
        response=response,
        usage=response["usage"],
        cost_usd="0.000123",
        created_at=created_at,
        expires_at=expires_at,
        finish_reason="stop",
    )


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


StoreFactory = Callable[..., CacheStore]


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def make_store(
    backend: str, tmp_path: Path, clock: FakeClock, request: pytest.FixtureRequest
) -> Iterator[StoreFactory]:
    """Builds stores of the parametrized backend (``max_entries``, ``max_bytes`` keywords)."""
    made: list[CacheStore] = []

    def factory(*, max_entries: int = 1000, max_bytes: int = 10_000_000) -> CacheStore:
        store: CacheStore
        if backend == "memory":
            store = MemoryCacheStore(max_entries, max_bytes, clock=clock)
        elif backend == "sqlite":
            store = SQLiteCacheStore(
                tmp_path / "cache.sqlite3", max_entries, max_bytes, clock=clock
            )
        else:
            from costroute.cache import RedisCacheStore

            url = request.getfixturevalue("redis_url")
            store = RedisCacheStore(url, max_entries, max_bytes=max_bytes, clock=clock)
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close()
