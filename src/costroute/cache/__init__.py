"""costroute.cache: serve repeated requests from a response cache, safely.

The rules are pure (``cache_key``, ``is_cacheable``, ``usable``, ``replay_chunks``,
``StreamAccumulator``); the stores (memory, SQLite, Redis) sit behind the ``CacheStore``
protocol; ``ResponseCache`` is the thin loop the client drives. ``redis`` is imported only
when a ``RedisCacheStore`` is built.
"""

from __future__ import annotations

from costroute.cache._cache import LookupCounters, ResponseCache
from costroute.cache._config import (
    CacheConfig,
    PolicyCacheConfig,
    default_sqlite_path,
    store_from_config,
)
from costroute.cache._entry import CacheEntry, CacheStats, CorruptEntryError
from costroute.cache._key import (
    EXCLUDED_KEYS,
    KEY_VERSION,
    UNCANONICAL,
    CanonicalRequest,
    cache_key,
    canonical_request,
    canonicalize,
    model_target,
    routed_target,
)
from costroute.cache._memory import MemoryCacheStore
from costroute.cache._redis import RedisCacheStore
from costroute.cache._rules import (
    CacheDecision,
    entry_expiry,
    is_cacheable,
    resolve_namespace,
    usable,
)
from costroute.cache._sqlite import SQLiteCacheStore
from costroute.cache._store import CacheStore, CacheUnavailable
from costroute.cache._stream import StreamAccumulator, replay_chunks, replay_response

__all__ = [
    "EXCLUDED_KEYS",
    "KEY_VERSION",
    "UNCANONICAL",
    "CacheConfig",
    "CacheDecision",
    "CacheEntry",
    "CacheStats",
    "CacheStore",
    "CacheUnavailable",
    "CanonicalRequest",
    "CorruptEntryError",
    "LookupCounters",
    "MemoryCacheStore",
    "PolicyCacheConfig",
    "RedisCacheStore",
    "ResponseCache",
    "SQLiteCacheStore",
    "StreamAccumulator",
    "cache_key",
    "canonical_request",
    "canonicalize",
    "default_sqlite_path",
    "entry_expiry",
    "is_cacheable",
    "model_target",
    "replay_chunks",
    "replay_response",
    "resolve_namespace",
    "routed_target",
    "store_from_config",
    "usable",
]
