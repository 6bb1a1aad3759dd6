"""The contract every CacheStore keeps: memory, SQLite and Redis run the same tests."""

from __future__ import annotations

import threading

import pytest

from costroute.cache import CacheEntry, CacheStats, CacheStore

from .conftest import FakeClock, StoreFactory, make_entry


def test_is_a_cache_store(make_store: StoreFactory) -> None:
    assert isinstance(make_store(), CacheStore)


def test_get_missing_is_a_miss(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.get("cr1:nope") is None
    assert store.stats() == CacheStats(entries=0, bytes=0, hits=0, misses=1, evictions=0)


def test_set_then_get_round_trips(make_store: StoreFactory) -> None:
    store = make_store()
    entry = make_entry("cr1:k1")
    store.set(entry)
    got = store.get("cr1:k1")
    assert got == entry
    assert got is not None and got.size_bytes == entry.size_bytes == len(entry.to_bytes())
    stats = store.stats()
    assert (stats.entries, stats.bytes, stats.hits, stats.misses) == (1, entry.size_bytes, 1, 0)


def test_returned_entries_cannot_mutate_the_cache(make_store: StoreFactory, backend: str) -> None:
    store = make_store()
    store.set(make_entry("cr1:k1"))
    got = store.get("cr1:k1")
    assert got is not None
    try:  # the memory store hands out read-only entries; the others hand out private copies
        got.response["choices"][0]["message"]["content"] = "tampered"
    except TypeError:
        assert backend == "memory"
    else:
        assert backend != "memory"
    again = store.get("cr1:k1")
    assert again is not None
    assert again.response["choices"][0]["message"]["content"] == "Hello there, world!"


def test_set_overwrites(make_store: StoreFactory) -> None:
    store = make_store()
    store.set(make_entry("cr1:k1", text="first"))
    second = make_entry("cr1:k1", text="second, longer")
    store.set(second)
    assert store.get("cr1:k1") == second
    assert store.stats().entries == 1
    assert store.stats().bytes == second.size_bytes


def test_delete(make_store: StoreFactory) -> None:
    store = make_store()
    store.set(make_entry("cr1:k1"))
    store.delete("cr1:k1")
    store.delete("cr1:absent")
    assert store.get("cr1:k1") is None
    assert store.stats().entries == 0
    assert store.stats().bytes == 0


def test_clear_all_and_by_namespace(make_store: StoreFactory) -> None:
    store = make_store()
    for i in range(3):
        store.set(make_entry(f"cr1:a{i}", namespace="alice"))
        store.set(make_entry(f"cr1:b{i}", namespace="bob"))
    store.clear("alice")
    assert [store.get(f"cr1:a{i}") for i in range(3)] == [None] * 3
    assert all(store.get(f"cr1:b{i}") is not None for i in range(3))
    assert store.stats().entries == 3
    store.clear()
    assert store.stats().entries == 0
    assert store.stats().bytes == 0


def test_ttl_expiry(make_store: StoreFactory, clock: FakeClock) -> None:
    store = make_store()
    store.set(make_entry("cr1:short", expires_at=clock.now + 10))
    store.set(make_entry("cr1:forever", expires_at=None))
    clock.advance(9.5)
    assert store.get("cr1:short") is not None
    clock.advance(0.5)
    assert store.get("cr1:short") is None
    assert store.get("cr1:forever") is not None
    assert store.stats().entries == 1


def test_already_expired_entry_is_never_served(make_store: StoreFactory, clock: FakeClock) -> None:
    store = make_store()
    store.set(make_entry("cr1:old", expires_at=clock.now - 1))
    assert store.get("cr1:old") is None


def test_lru_eviction_by_entries(make_store: StoreFactory) -> None:
    store = make_store(max_entries=3)
    for i in range(3):
        store.set(make_entry(f"cr1:{i}"))
    assert store.get("cr1:0") is not None  # 0 is now the most recently used
    store.set(make_entry("cr1:3"))
    assert store.get("cr1:1") is None  # the least recently used went
    assert all(store.get(f"cr1:{i}") is not None for i in (0, 2, 3))
    stats = store.stats()
    assert stats.entries == 3
    assert stats.evictions == 1


def test_lru_eviction_by_bytes(make_store: StoreFactory) -> None:
    size = make_entry("cr1:0").size_bytes
    store = make_store(max_bytes=size * 3 + size // 2)
    for i in range(3):
        store.set(make_entry(f"cr1:{i}"))
    assert store.get("cr1:0") is not None
    store.set(make_entry("cr1:3"))
    assert store.get("cr1:1") is None
    assert all(store.get(f"cr1:{i}") is not None for i in (0, 2, 3))
    assert store.stats().bytes <= size * 3 + size // 2
    assert store.stats().evictions == 1


def test_entry_larger_than_the_byte_budget_is_not_kept(make_store: StoreFactory) -> None:
    store = make_store(max_bytes=2000)
    store.set(make_entry("cr1:small"))
    store.set(make_entry("cr1:huge", text="x" * 5000))
    assert store.get("cr1:huge") is None
    assert store.stats().bytes <= 2000


def _plant(store: CacheStore, backend: str, key: str, blob: bytes) -> None:
    """Write a raw blob under ``key``, bypassing the store's encoding. The memory store holds
    decoded entries only (it decodes on ``set``), so it has no blob to damage."""
    if backend == "sqlite":
        store._conn.execute(  # type: ignore[attr-defined]
            "INSERT INTO entries VALUES (?, 'alice', ?, ?, NULL, 0)", (key, blob, len(blob))
        )
    else:
        store._client.set("costroute:cache:e:" + key, blob)  # type: ignore[attr-defined]


#: Stores that keep byte blobs (the memory store keeps decoded entries: nothing to damage).
persistent = pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])


@persistent
@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"{not json",
        b'{"v": 999}',
        b'{"v": 1, "key": "cr1:bad"}',
        make_entry("cr1:bad").to_bytes()[:-7],
        make_entry("cr1:another-key").to_bytes(),
    ],
    ids=["empty", "garbage", "future-version", "missing-fields", "truncated", "wrong-key"],
)
def test_corrupted_blob_is_a_miss_and_deleted(
    make_store: StoreFactory, backend: str, blob: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    _plant(store, backend, "cr1:bad", blob)
    with caplog.at_level("WARNING", logger="costroute.cache"):
        assert store.get("cr1:bad") is None
    assert "corrupted" in caplog.text
    assert store.stats().misses == 1
    store.set(make_entry("cr1:bad"))  # the slot is usable again
    assert store.get("cr1:bad") is not None


def test_threads_hammering_one_store(make_store: StoreFactory) -> None:
    store = make_store(max_entries=20)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(30):
                key = f"cr1:{(n * 7 + i) % 40}"
                store.set(make_entry(key, text=f"text {key}"))
                got = store.get(key)
                assert got is None or got.response["choices"][0]["message"]["content"] == (
                    f"text {key}"
                )
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stats = store.stats()
    assert stats.entries <= 20


async def test_async_twins(make_store: StoreFactory) -> None:
    store = make_store()
    entry = make_entry("cr1:async")
    try:
        assert await store.aget("cr1:async") is None
        await store.aset(entry)
        assert await store.aget("cr1:async") == entry
        assert store.get("cr1:async") == entry
    finally:
        await store.aclose()


@persistent
async def test_async_corrupted_blob_is_a_miss(make_store: StoreFactory, backend: str) -> None:
    store = make_store()
    _plant(store, backend, "cr1:bad", b"\x00\x01garbage")
    try:
        assert await store.aget("cr1:bad") is None
        assert await store.aget("cr1:bad") is None
        assert store.stats().misses == 2
    finally:
        await store.aclose()


def test_entries_equal_ignores_size(make_store: StoreFactory) -> None:
    entry = make_entry("cr1:x")
    assert isinstance(entry, CacheEntry)
    store = make_store()
    store.set(entry)
    assert store.get("cr1:x") == entry
