"""The one small interface every cache backend implements."""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from costroute._errors import CacheUnavailable
from costroute.cache._entry import CacheEntry, CacheStats

__all__ = ["CacheStore", "CacheUnavailable"]

logger = logging.getLogger("costroute.cache")


@runtime_checkable
class CacheStore(Protocol):
    """Where entries live. Thread-safe; ``get`` never returns an expired or corrupted entry
    (a corrupted blob is logged, deleted and counted as a miss). Backend failures are raised
    as ``CacheUnavailable``.

    ``aget``/``aset`` are the async twins: native for Redis, the sync operation called
    directly for local backends (a memory or SQLite operation is short; never a thread).
    """

    def get(self, key: str) -> CacheEntry | None: ...

    def set(self, entry: CacheEntry) -> None: ...

    def delete(self, key: str) -> None: ...

    def clear(self, namespace: str | None = None) -> None: ...

    def stats(self) -> CacheStats: ...

    def close(self) -> None: ...

    async def aget(self, key: str) -> CacheEntry | None: ...

    async def aset(self, entry: CacheEntry) -> None: ...

    async def aclose(self) -> None:
        """Like ``close``, releasing async resources too (call it from the event loop)."""
        ...
