"""A cache store shared by many processes and hosts, in Redis.

Layout under ``prefix`` (default ``costroute:cache:``)::

    e:<key>        the entry blob, with a native TTL (PX)
    lru            sorted set key -> access sequence (bumped on every hit)
    meta           hash key -> "<size>|<namespace>"
    ns:<namespace> set of the namespace's keys (for ``clear(namespace)``)
    bytes, seq     running byte total and the access counter

Every operation is one Lua script, so the bookkeeping is atomic and costs one round trip.
Entries that Redis expired are swept from the bookkeeping when touched, evicted or counted.
``redis`` is imported lazily; the sync twin uses ``redis.Redis``, the async one
``redis.asyncio.Redis`` (created on first use inside the running event loop).
The scripts touch keys they compute, so use a standalone Redis (not Redis Cluster).
"""

from __future__ import annotations

import contextlib
import importlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from pydantic import SecretStr

from costroute.cache._entry import CacheEntry, CacheStats, CorruptEntryError
from costroute.cache._store import CacheUnavailable, logger

__all__ = ["RedisCacheStore"]

_DROP = """
local p = ARGV[1]
local function drop(k)
  local m = redis.call('HGET', p .. 'meta', k)
  if m then
    local bar = string.find(m, '|', 1, true)
    redis.call('DECRBY', p .. 'bytes', tonumber(string.sub(m, 1, bar - 1)))
    redis.call('SREM', p .. 'ns:' .. string.sub(m, bar + 1), k)
    redis.call('HDEL', p .. 'meta', k)
  end
  redis.call('ZREM', p .. 'lru', k)
  redis.call('DEL', p .. 'e:' .. k)
end
"""

_GET = _DROP + """
local k = ARGV[2]
local blob = redis.call('GET', p .. 'e:' .. k)
if blob then
  redis.call('ZADD', p .. 'lru', 'XX', redis.call('INCR', p .. 'seq'), k)
  return blob
end
drop(k)
return false
"""

_SET = _DROP + """
local k, ns, blob = ARGV[2], ARGV[3], ARGV[4]
local ttl, max_entries, max_bytes = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
drop(k)
if ttl > 0 then
  redis.call('SET', p .. 'e:' .. k, blob, 'PX', ttl)
else
  redis.call('SET', p .. 'e:' .. k, blob)
end
local size = string.len(blob)
redis.call('HSET', p .. 'meta', k, size .. '|' .. ns)
redis.call('SADD', p .. 'ns:' .. ns, k)
redis.call('INCRBY', p .. 'bytes', size)
redis.call('ZADD', p .. 'lru', redis.call('INCR', p .. 'seq'), k)
local evicted = 0
while true do
  local count = redis.call('ZCARD', p .. 'lru')
  local total = tonumber(redis.call('GET', p .. 'bytes') or '0')
  if count <= max_entries and (max_bytes <= 0 or total <= max_bytes) then break end
  local oldest = redis.call('ZRANGE', p .. 'lru', 0, 0)[1]
  if not oldest then break end
  if redis.call('EXISTS', p .. 'e:' .. oldest) == 1 then evicted = evicted + 1 end
  drop(oldest)
end
return evicted
"""

_DELETE = _DROP + """
drop(ARGV[2])
return 0
"""

_CLEAR = _DROP + """
local keys
if ARGV[2] == '1' then
  keys = redis.call('SMEMBERS', p .. 'ns:' .. ARGV[3])
else
  keys = redis.call('ZRANGE', p .. 'lru', 0, -1)
end
for _, k in ipairs(keys) do drop(k) end
return #keys
"""

_STATS = _DROP + """
for _, k in ipairs(redis.call('ZRANGE', p .. 'lru', 0, -1)) do
  if redis.call('EXISTS', p .. 'e:' .. k) == 0 then drop(k) end
end
return {redis.call('ZCARD', p .. 'lru'), tonumber(redis.call('GET', p .. 'bytes') or '0')}
"""


def _import_redis() -> ModuleType:
    try:
        return importlib.import_module("redis")
    except ImportError as exc:
        raise ImportError(
            "the Redis cache backend needs the `redis` package: pip install 'costroute[redis]'"
        ) from exc


class RedisCacheStore:
    """LRU-bounded by ``max_entries`` (and ``max_bytes`` if given); native TTL per entry,
    capped by ``ttl`` seconds when given. ``hits``/``misses``/``evictions`` in ``stats()``
    count this store object's operations."""

    def __init__(
        self,
        url: str | SecretStr,
        max_entries: int = 10_000,
        ttl: float | None = None,
        *,
        max_bytes: int | None = None,
        prefix: str = "costroute:cache:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries <= 0 or (max_bytes is not None and max_bytes <= 0):
            raise ValueError("max_entries and max_bytes must be positive")
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be positive")
        self._redis = _import_redis()
        self._url = url if isinstance(url, SecretStr) else SecretStr(url)
        self._max_entries = max_entries
        self._max_bytes = max_bytes or 0
        self._ttl = ttl
        self._prefix = prefix
        self._clock = clock
        self._hits = self._misses = self._evictions = 0
        self._counter_lock = threading.Lock()
        with self._errors():
            self._client: Any = self._redis.Redis.from_url(self._url.get_secret_value())
        self._scripts = {
            name: self._client.register_script(lua) for name, lua in _SCRIPTS.items()
        }
        self._aclient: Any = None
        self._ascripts: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"RedisCacheStore(url=SecretStr('**********'), prefix={self._prefix!r})"

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except self._redis.RedisError as exc:
            raise CacheUnavailable(f"Redis cache: {type(exc).__name__}") from exc

    def _async_scripts(self) -> dict[str, Any]:
        if self._aclient is None:
            asyncio_redis = importlib.import_module("redis.asyncio")
            self._aclient = asyncio_redis.Redis.from_url(self._url.get_secret_value())
            self._ascripts = {
                name: self._aclient.register_script(lua) for name, lua in _SCRIPTS.items()
            }
        return self._ascripts

    # -- pure helpers shared by both twins ------------------------------------------------

    def _ttl_ms(self, entry: CacheEntry) -> int | None:
        """Milliseconds to live (0: forever), or ``None`` if the entry is already expired."""
        ttl_s = None if entry.expires_at is None else entry.expires_at - self._clock()
        if ttl_s is not None and ttl_s <= 0:
            return None
        if self._ttl is not None:
            ttl_s = self._ttl if ttl_s is None else min(ttl_s, self._ttl)
        return 0 if ttl_s is None else max(1, math.ceil(ttl_s * 1000))

    def _set_args(self, entry: CacheEntry, ttl_ms: int) -> list[Any]:
        return [
            self._prefix, entry.key, entry.namespace, entry.to_bytes(), ttl_ms,
            self._max_entries, self._max_bytes,
        ]  # fmt: skip

    def _decode(self, key: str, blob: bytes | None) -> tuple[CacheEntry | None, bool]:
        """The entry (or ``None``) and whether the stored blob must be deleted."""
        entry: CacheEntry | None = None
        drop = False
        if blob is not None:
            try:
                entry = CacheEntry.from_bytes(bytes(blob), key=key)
            except CorruptEntryError:
                logger.warning("dropping a corrupted cache entry %s", key)
                drop = True
            if entry is not None and entry.expired(self._clock()):
                entry, drop = None, True
        self._count(hits=int(entry is not None), misses=int(entry is None))
        return entry, drop

    def _count(self, *, hits: int = 0, misses: int = 0, evictions: int = 0) -> None:
        with self._counter_lock:
            self._hits += hits
            self._misses += misses
            self._evictions += evictions

    # -- sync ----------------------------------------------------------------------------

    def get(self, key: str) -> CacheEntry | None:
        with self._errors():
            blob = self._scripts["get"](args=[self._prefix, key])
        entry, drop = self._decode(key, blob)
        if drop:
            self.delete(key)
        return entry

    def set(self, entry: CacheEntry) -> None:
        ttl_ms = self._ttl_ms(entry)
        if ttl_ms is None:
            return
        with self._errors():
            evicted = self._scripts["set"](args=self._set_args(entry, ttl_ms))
        self._count(evictions=int(evicted))

    def delete(self, key: str) -> None:
        with self._errors():
            self._scripts["delete"](args=[self._prefix, key])

    def clear(self, namespace: str | None = None) -> None:
        args = [self._prefix, "0" if namespace is None else "1", namespace or ""]
        with self._errors():
            self._scripts["clear"](args=args)

    def stats(self) -> CacheStats:
        with self._errors():
            entries, size = self._scripts["stats"](args=[self._prefix])
        with self._counter_lock:
            return CacheStats(
                entries=int(entries),
                bytes=int(size),
                hits=self._hits,
                misses=self._misses,
                evictions=self._evictions,
            )

    def close(self) -> None:
        self._client.close()

    # -- async ---------------------------------------------------------------------------

    async def aget(self, key: str) -> CacheEntry | None:
        with self._errors():
            blob = await self._async_scripts()["get"](args=[self._prefix, key])
        entry, drop = self._decode(key, blob)
        if drop:
            with self._errors():
                await self._async_scripts()["delete"](args=[self._prefix, key])
        return entry

    async def aset(self, entry: CacheEntry) -> None:
        ttl_ms = self._ttl_ms(entry)
        if ttl_ms is None:
            return
        with self._errors():
            evicted = await self._async_scripts()["set"](args=self._set_args(entry, ttl_ms))
        self._count(evictions=int(evicted))

    async def aclose(self) -> None:
        """Close both clients (the store is done, as after ``close``)."""
        self._client.close()
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
            self._ascripts = {}


_SCRIPTS = {"get": _GET, "set": _SET, "delete": _DELETE, "clear": _CLEAR, "stats": _STATS}
