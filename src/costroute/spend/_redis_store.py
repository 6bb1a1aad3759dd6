"""The Redis budget store: counters shared by every host. One Lua script per operation.

Layout per counter (``<prefix>c:<key id>``, a hash): ``spent``, ``reserved`` and one ``r:<id>``
field per live reservation; ``<prefix>e:<key id>`` is a sorted set of reservation ids by expiry
(ms). Counters expire 35 days after their period ends. Any Redis error raises
:class:`~costroute.BudgetStoreUnavailable` (fail closed); the URL's password never appears.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

from .._errors import BudgetStoreUnavailable
from ._keys import BudgetKey
from ._redact import redact_url, scrub
from ._seeding import StoreUnseeded
from ._store import BudgetState, CounterState, ReserveOutcome, alert_id

__all__ = ["RedisBudgetStore"]

_KEEP_MS = 35 * 86_400_000

_SWEEP = """
local function sweep(c, e, now)
  for _, old in ipairs(redis.call('ZRANGEBYSCORE', e, '-inf', now)) do
    local amt = redis.call('HGET', c, 'r:' .. old)
    if amt then
      redis.call('HINCRBY', c, 'reserved', -tonumber(amt))
      redis.call('HDEL', c, 'r:' .. old)
    end
    redis.call('ZREM', e, old)
  end
end
"""

_RESERVE = _SWEEP + """
local rid, amount, now, exp = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local field = 'r:' .. rid
local n = #KEYS / 2
local spent, reserved, held, denied, out = {}, {}, {}, {}, {}
for i = 1, n do
  local c, e = KEYS[2*i-1], KEYS[2*i]
  sweep(c, e, now)
  local v = redis.call('HMGET', c, 'spent', 'reserved', field)
  spent[i], reserved[i], held[i] = tonumber(v[1]) or 0, tonumber(v[2]) or 0, v[3] ~= false
  local limit, enforced = tonumber(ARGV[3*i+2]), ARGV[3*i+3] == '1'
  if enforced and not held[i] and spent[i] + reserved[i] + amount > limit then
    table.insert(denied, i - 1)
  end
end
if #denied == 0 then
  for i = 1, n do
    local c, e = KEYS[2*i-1], KEYS[2*i]
    if not held[i] then
      redis.call('HINCRBY', c, 'reserved', ARGV[2])
      redis.call('HSET', c, field, ARGV[2])
      redis.call('ZADD', e, exp, rid)
      reserved[i] = reserved[i] + amount
      local at = tonumber(ARGV[3*i+4])
      if at > 0 then
        redis.call('PEXPIREAT', c, at)
        redis.call('PEXPIREAT', e, at)
      end
    end
  end
end
for i = 1, n do
  table.insert(out, spent[i])
  table.insert(out, reserved[i])
end
return {#denied == 0 and 1 or 0, denied, out}
"""

_SETTLE = """
local field = 'r:' .. ARGV[1]
local out = {}
for i = 1, #KEYS / 2 do
  local c, e = KEYS[2*i-1], KEYS[2*i]
  local amt = redis.call('HGET', c, field)
  if amt then
    redis.call('HINCRBY', c, 'reserved', -tonumber(amt))
    redis.call('HDEL', c, field)
  end
  redis.call('ZREM', e, ARGV[1])
  table.insert(out, redis.call('HINCRBY', c, 'spent', ARGV[2]))
  local at = tonumber(ARGV[2+i])
  if at > 0 then redis.call('PEXPIREAT', c, at) end
end
return out
"""

_RELEASE = """
local field = 'r:' .. ARGV[1]
for i = 1, #KEYS / 2 do
  local c, e = KEYS[2*i-1], KEYS[2*i]
  local amt = redis.call('HGET', c, field)
  if amt then
    redis.call('HINCRBY', c, 'reserved', -tonumber(amt))
    redis.call('HDEL', c, field)
  end
  redis.call('ZREM', e, ARGV[1])
end
return 1
"""

_SNAPSHOT = _SWEEP + """
local out = {}
for i = 1, #KEYS / 2 do
  local c, e = KEYS[2*i-1], KEYS[2*i]
  sweep(c, e, ARGV[1])
  local v = redis.call('HMGET', c, 'spent', 'reserved')
  table.insert(out, tonumber(v[1]) or 0)
  table.insert(out, tonumber(v[2]) or 0)
end
return out
"""

_SEED = """
local ok = redis.call('HSETNX', KEYS[1], 'spent', ARGV[1])
local at = tonumber(ARGV[2])
if ok == 1 and at > 0 then redis.call('PEXPIREAT', KEYS[1], at) end
return ok
"""

_CLAIM = """
if redis.call('SET', KEYS[1], '1', 'NX') then
  local at = tonumber(ARGV[1])
  if at > 0 then redis.call('PEXPIREAT', KEYS[1], at) end
  return 1
end
return 0
"""

# KEYS[1] is the "seeded" marker, then the counters; ARGV[1] the marker's value, then per
# counter its spent and expiry (ms)
_SEED_ALL = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #KEYS do
  local had = tonumber(redis.call('HGET', KEYS[i], 'spent')) or 0
  redis.call('HSET', KEYS[i], 'spent', math.max(had, tonumber(ARGV[2*i-2])))
  local at = tonumber(ARGV[2*i-1])
  if at > 0 then redis.call('PEXPIREAT', KEYS[i], at) end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""

# a guarded operation gets the marker as its last key and changes nothing without it
_GUARD = """
local marker = table.remove(KEYS)
if redis.call('EXISTS', marker) == 0 then return -1 end
"""

_SCRIPTS = {
    "reserve": _RESERVE, "settle": _SETTLE, "release": _RELEASE, "snapshot": _SNAPSHOT,
    "seed": _SEED, "claim": _CLAIM, "seed_all": _SEED_ALL,
    "g_reserve": _GUARD + _RESERVE, "g_settle": _GUARD + _SETTLE,
}


def _cancelling() -> int:
    """Pending cancellation requests of the current task (0 outside a task, or before 3.11)."""
    task = asyncio.current_task()
    return int(getattr(task, "cancelling", lambda: 0)()) if task is not None else 0


def _expire_at_ms(key: BudgetKey) -> int:
    return 0 if key.period_end is None else int(key.period_end.timestamp() * 1000) + _KEEP_MS


class RedisBudgetStore:
    """Budget counters in Redis (``redis`` extra). Safe across processes and hosts."""

    def __init__(
        self, url: str, *, prefix: str = "costroute:budget:", socket_timeout: float = 5.0
    ) -> None:
        try:
            import redis
            import redis.asyncio
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "RedisBudgetStore needs redis-py: pip install 'costroute[redis]'"
            ) from exc
        self._redis = redis
        self._url = url
        self._prefix = prefix
        self._timeout = socket_timeout
        self._sync: Any = None
        self._async: Any = None
        self._scripts: dict[str, Any] = {}
        self._ascripts: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisBudgetStore({redact_url(self._url)!r})"

    # -- plumbing -------------------------------------------------------------------------
    def _client(self) -> Any:
        # first use from many threads at once: one client, published only with its scripts
        # (a thread seeing the client before the scripts raised a raw KeyError)
        if self._sync is None:
            with self._lock:
                if self._sync is None:
                    client = self._redis.Redis.from_url(
                        self._url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout
                    )
                    self._scripts = {n: client.register_script(s) for n, s in _SCRIPTS.items()}
                    self._sync = client
        return self._sync

    def _aclient(self) -> Any:
        if self._async is None:
            client = self._redis.asyncio.Redis.from_url(
                self._url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout
            )
            self._ascripts = {n: client.register_script(s) for n, s in _SCRIPTS.items()}
            self._async = client
        return self._async

    def _unavailable(self, exc: Exception) -> BudgetStoreUnavailable:
        detail = scrub(str(exc), self._url)
        return BudgetStoreUnavailable(
            f"budget store {redact_url(self._url)} unavailable: {type(exc).__name__}: {detail}"
        )

    @property
    def _marker(self) -> str:
        return f"{self._prefix}seeded"

    def _guarded(self, result: Any) -> Any:
        if result == -1:
            raise StoreUnseeded(
                f"the budget store {redact_url(self._url)} has not been seeded from the ledger"
            )
        return result

    def _call(self, name: str, keys: list[str], args: list[Any], guarded: bool = False) -> Any:
        if guarded:
            name, keys = f"g_{name}", [*keys, self._marker]
        try:
            self._client()
            result = self._scripts[name](keys=keys, args=args)
        except self._redis.RedisError as exc:
            raise self._unavailable(exc) from exc
        return self._guarded(result) if guarded else result

    async def _acall(
        self, name: str, keys: list[str], args: list[Any], guarded: bool = False
    ) -> Any:
        if guarded:
            name, keys = f"g_{name}", [*keys, self._marker]
        before = _cancelling()
        try:
            self._aclient()
            result = await self._ascripts[name](keys=keys, args=args)
        except self._redis.RedisError as exc:
            raise self._unavailable(exc) from exc
        if _cancelling() > before:
            # redis-py can swallow a cancellation that lands while it connects (redis-py #2551
            # and kin); a task must not outlive its own cancellation, so raise it here.
            raise asyncio.CancelledError
        return self._guarded(result) if guarded else result

    def _seed_args(self, counters: Sequence[tuple[BudgetKey, int]]) -> tuple[list[str], list[Any]]:
        keys = [self._marker, *(f"{self._prefix}c:{k.id}" for k, _ in counters)]
        args: list[Any] = [repr(time.time())]
        for k, spent in counters:
            args += [spent, _expire_at_ms(k)]
        return keys, args

    def _pairs(self, keys: Sequence[BudgetKey]) -> list[str]:
        out = []
        for k in keys:
            out += [f"{self._prefix}c:{k.id}", f"{self._prefix}e:{k.id}"]
        return out

    @staticmethod
    def _reserve_args(
        reservation_id: str, keys: Sequence[BudgetKey], amount: int, now: float, ttl_s: float
    ) -> list[Any]:
        args: list[Any] = [reservation_id, amount, int(now * 1000), int((now + ttl_s) * 1000)]
        for k in keys:
            args += [k.limit_micros, 1 if k.enforced else 0, _expire_at_ms(k)]
        return args

    @staticmethod
    def _outcome(raw: Any) -> ReserveOutcome:
        ok, denied, flat = raw
        states = tuple(
            CounterState(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)
        )
        return ReserveOutcome(bool(ok), tuple(int(d) for d in denied), states)

    # -- operations -------------------------------------------------------------------------
    def reserve(
        self, reservation_id: str, keys: Sequence[BudgetKey], amount: int, *, now: float,
        ttl_s: float, guarded: bool = False,
    ) -> ReserveOutcome:
        args = self._reserve_args(reservation_id, keys, amount, now, ttl_s)
        return self._outcome(self._call("reserve", self._pairs(keys), args, guarded))

    async def areserve(
        self, reservation_id: str, keys: Sequence[BudgetKey], amount: int, *, now: float,
        ttl_s: float, guarded: bool = False,
    ) -> ReserveOutcome:
        args = self._reserve_args(reservation_id, keys, amount, now, ttl_s)
        return self._outcome(await self._acall("reserve", self._pairs(keys), args, guarded))

    def settle(
        self, reservation_id: str, keys: Sequence[BudgetKey], actual: int, *, guarded: bool = False
    ) -> list[int]:
        args = [reservation_id, actual, *(_expire_at_ms(k) for k in keys)]
        return [int(v) for v in self._call("settle", self._pairs(keys), args, guarded)]

    async def asettle(
        self, reservation_id: str, keys: Sequence[BudgetKey], actual: int, *, guarded: bool = False
    ) -> list[int]:
        args = [reservation_id, actual, *(_expire_at_ms(k) for k in keys)]
        return [int(v) for v in await self._acall("settle", self._pairs(keys), args, guarded)]

    def seed_all(self, counters: Sequence[tuple[BudgetKey, int]]) -> bool:
        keys, args = self._seed_args(counters)
        return bool(self._call("seed_all", keys, args))

    async def aseed_all(self, counters: Sequence[tuple[BudgetKey, int]]) -> bool:
        keys, args = self._seed_args(counters)
        return bool(await self._acall("seed_all", keys, args))

    def release(self, reservation_id: str, keys: Sequence[BudgetKey]) -> None:
        if keys:
            self._call("release", self._pairs(keys), [reservation_id])

    async def arelease(self, reservation_id: str, keys: Sequence[BudgetKey]) -> None:
        if keys:
            await self._acall("release", self._pairs(keys), [reservation_id])

    def snapshot(self, keys: Sequence[BudgetKey], *, now: float | None = None) -> list[BudgetState]:
        if not keys:
            return []
        at = int((time.time() if now is None else now) * 1000)
        flat = self._call("snapshot", self._pairs(keys), [at])
        return [
            BudgetState.of(k, CounterState(int(flat[2 * i]), int(flat[2 * i + 1])))
            for i, k in enumerate(keys)
        ]

    async def asnapshot(
        self, keys: Sequence[BudgetKey], *, now: float | None = None
    ) -> list[BudgetState]:
        if not keys:
            return []
        at = int((time.time() if now is None else now) * 1000)
        flat = await self._acall("snapshot", self._pairs(keys), [at])
        return [
            BudgetState.of(k, CounterState(int(flat[2 * i]), int(flat[2 * i + 1])))
            for i, k in enumerate(keys)
        ]

    def seed(self, key: BudgetKey, spent: int) -> bool:
        return bool(
            self._call("seed", [f"{self._prefix}c:{key.id}"], [spent, _expire_at_ms(key)])
        )

    def _alert_key(self, key: BudgetKey, threshold: float, refused: bool) -> list[str]:
        return [f"{self._prefix}a:{alert_id(key, threshold, refused=refused)}"]

    def claim_alert(self, key: BudgetKey, threshold: float, *, refused: bool = False) -> bool:
        return bool(self._call("claim", self._alert_key(key, threshold, refused), [_expire_at_ms(key)]))

    async def aclaim_alert(self, key: BudgetKey, threshold: float, *, refused: bool = False) -> bool:
        keys = self._alert_key(key, threshold, refused)
        return bool(await self._acall("claim", keys, [_expire_at_ms(key)]))

    def close(self) -> None:
        """Close the synchronous connection pool (use :meth:`aclose` for the async one)."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        """Close both connection pools."""
        self.close()
        if self._async is not None:
            await self._async.aclose()
            self._async = None
