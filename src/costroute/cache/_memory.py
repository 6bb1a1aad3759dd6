"""An in-process LRU cache store, bounded by entries and bytes."""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from costroute.cache._entry import CacheEntry, CacheStats

__all__ = ["MemoryCacheStore"]


class MemoryCacheStore:
    """Entries kept decoded and deeply read-only (``get`` hands out the stored entry itself; its
    response and usage raise ``TypeError`` on any change, so no caller can alter the cache),
    evicted least-recently-used first once ``max_entries`` or ``max_bytes`` (counted as the
    entries' byte form) is exceeded."""

    def __init__(
        self,
        max_entries: int = 10_000,
        max_bytes: int = 256 * 1024 * 1024,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries <= 0 or max_bytes <= 0:
            raise ValueError("max_entries and max_bytes must be positive")
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._data: OrderedDict[str, CacheEntry] = OrderedDict()
        self._bytes = 0
        self._hits = self._misses = self._evictions = 0

    def get(self, key: str) -> CacheEntry | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None or entry.expired(self._clock()):
                if entry is not None:
                    self._drop(key)
                self._misses += 1
                return None
            self._data.move_to_end(key)
            self._hits += 1
        return entry

    def set(self, entry: CacheEntry) -> None:
        size = entry.size_bytes or len(entry.to_bytes())  # entries made by create() know their size
        private = replace(entry.frozen(), size_bytes=size, etag=entry.etag or os.urandom(8).hex())
        with self._lock:
            if entry.key in self._data:
                self._drop(entry.key)
            if size > self._max_bytes:
                return  # larger than the whole budget: never cached
            self._data[entry.key] = private
            self._bytes += size
            while len(self._data) > self._max_entries or self._bytes > self._max_bytes:
                oldest = next(iter(self._data))
                self._drop(oldest)
                self._evictions += 1

    def _drop(self, key: str) -> None:
        self._bytes -= self._data.pop(key).size_bytes

    def delete(self, key: str) -> None:
        with self._lock:
            if key in self._data:
                self._drop(key)

    def clear(self, namespace: str | None = None) -> None:
        with self._lock:
            doomed = [k for k, v in self._data.items() if namespace is None or v.namespace == namespace]
            for key in doomed:
                self._drop(key)

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                entries=len(self._data),
                bytes=self._bytes,
                hits=self._hits,
                misses=self._misses,
                evictions=self._evictions,
            )

    def close(self) -> None:
        """Nothing to release."""

    async def aget(self, key: str) -> CacheEntry | None:
        return self.get(key)

    async def aset(self, entry: CacheEntry) -> None:
        self.set(entry)

    async def aclose(self) -> None:
        self.close()
