"""``ResponseCache``: the thin loop doing the I/O around the pure caching rules."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from costroute.cache._config import CacheConfig, PolicyCacheConfig
from costroute.cache._entry import CacheEntry
from costroute.cache._key import UNCANONICAL, CanonicalRequest, cache_key, model_target, routed_target
from costroute.cache._rules import entry_expiry, is_cacheable, usable
from costroute.cache._store import CacheStore, CacheUnavailable, logger

__all__ = ["LookupCounters", "ResponseCache"]

_L = TypeVar("_L")


@dataclass(frozen=True, slots=True)
class LookupCounters:
    """What the facade saw: ``hits`` served, ``misses`` (absent, expired, or not usable for
    the request's quality or model), ``bypassed`` (uncacheable or ``cache="refresh"``),
    ``errors`` (the store failed; the request went on uncached), ``stored`` entries."""

    hits: int = 0
    misses: int = 0
    bypassed: int = 0
    errors: int = 0
    stored: int = 0


class _KeyedLocks(Generic[_L]):
    """One lock per key, created on demand and dropped when nobody holds or awaits it."""

    def __init__(self, factory: Callable[[], _L]) -> None:
        self._factory = factory
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[_L, int]] = {}

    def acquire_slot(self, key: str) -> _L:
        with self._guard:
            lock, users = self._locks.get(key) or (self._factory(), 0)
            self._locks[key] = (lock, users + 1)
            return lock

    def release_slot(self, key: str) -> None:
        with self._guard:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class ResponseCache:
    """The response cache the client uses: rules, key, store and single-flight in one place.

    A cache failure never fails a request: store errors are logged and counted, and the
    request proceeds uncached. How the client uses it (the async client is the same with
    ``alookup``/``astore``/``asingle_flight``)::

        kw = dict(policy=policy_name, namespace=namespace, pinned_model=pinned_or_None)
        entry = cache.lookup(request, required_quality=tier_min_quality, **kw)
        if entry is not None:
            return response_from(entry)         # or replay_chunks(entry) when streaming
        key = cache.key_for(request, **kw)      # None: uncacheable, just call upstream
        with cache.single_flight(key):          # a no-op lock when key is None
            entry = cache.lookup(request, required_quality=tier_min_quality, **kw)
            if entry is not None:               # another thread filled it meanwhile
                return response_from(entry)
            response = call_upstream()          # streaming: feed a StreamAccumulator and
            cache.store(request, model=..., model_quality=..., response_dict=...,
                        usage_dict=..., cost_usd=..., finish_reason=..., **kw)
                                                # store only if accumulator.complete

    ``namespace`` comes from ``resolve_namespace(tags=..., cache_namespace=...,
    namespace_tag=config.namespace_tag)``. ``policy_cfg`` (the policy's ``cache:`` section)
    may be passed to every method to override ``enabled`` and ``ttl_s``.
    """

    def __init__(
        self,
        store: CacheStore,
        config: CacheConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = store
        self.config = config if config is not None else CacheConfig()
        self._clock = clock
        self._counts = {"hits": 0, "misses": 0, "bypassed": 0, "errors": 0, "stored": 0}
        self._count_lock = threading.Lock()
        self._thread_locks: _KeyedLocks[threading.Lock] = _KeyedLocks(threading.Lock)
        self._task_locks: _KeyedLocks[asyncio.Lock] = _KeyedLocks(asyncio.Lock)

    # -- pure steps ----------------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._count_lock:
            self._counts[name] += 1

    @property
    def counters(self) -> LookupCounters:
        with self._count_lock:
            return LookupCounters(**self._counts)

    def key_for(
        self,
        request: Mapping[str, Any] | CanonicalRequest,
        *,
        policy: str,
        namespace: str,
        pinned_model: str | None,
    ) -> str | None:
        """The cache key, or ``None`` when the request has no canonical form (a value with no
        JSON form, a signalling NaN, ...).
        ``request`` may be given already canonical (``canonicalize(request)``)."""
        target = routed_target(policy) if pinned_model is None else model_target(pinned_model)
        try:
            return cache_key(request, policy=policy, namespace=namespace, target=target)
        except UNCANONICAL:
            return None

    def _lookup_key(
        self,
        request: Mapping[str, Any],
        policy: str,
        namespace: str,
        pinned_model: str | None,
        policy_cfg: PolicyCacheConfig | None,
        known: str | None = None,
    ) -> str | None:
        key = None
        if is_cacheable(request, policy_cfg, config=self.config).lookup:
            key = known or self.key_for(request, policy=policy, namespace=namespace,
                                        pinned_model=pinned_model)  # fmt: skip
        if key is None:
            self._count("bypassed")
        return key

    def _accept(
        self,
        entry: CacheEntry | None,
        namespace: str,
        required_quality: float | None,
        pinned_model: str | None,
    ) -> CacheEntry | None:
        if (
            entry is not None
            and entry.namespace == namespace
            and usable(
                entry,
                required_quality=required_quality,
                pinned_model=pinned_model,
                now=self._clock(),
            )
        ):
            self._count("hits")
            return entry
        self._count("misses")
        return None

    def _new_entry(
        self,
        request: Mapping[str, Any],
        *,
        policy: str,
        namespace: str,
        pinned_model: str | None,
        model: str,
        model_quality: float,
        response_dict: Mapping[str, Any],
        usage_dict: Mapping[str, Any],
        cost_usd: Decimal | str,
        finish_reason: str | None,
        policy_cfg: PolicyCacheConfig | None,
        known: str | None = None,
    ) -> CacheEntry | None:
        if finish_reason is None or not response_dict.get("choices"):
            return None  # an incomplete response is never stored
        if not is_cacheable(request, policy_cfg, config=self.config).store:
            return None
        key = known or self.key_for(request, policy=policy, namespace=namespace, pinned_model=pinned_model)
        if key is None:
            return None
        now = self._clock()
        return CacheEntry.create(
            key=key,
            namespace=namespace,
            model=model,
            model_quality=model_quality,
            response=response_dict,
            usage=usage_dict,
            cost_usd=cost_usd,
            created_at=now,
            expires_at=entry_expiry(now, self.config, policy_cfg),
            finish_reason=finish_reason,
        )

    # -- sync ----------------------------------------------------------------------------

    def lookup(
        self,
        request: Mapping[str, Any],
        *,
        policy: str,
        namespace: str,
        required_quality: float | None,
        pinned_model: str | None,
        policy_cfg: PolicyCacheConfig | None = None,
        key: str | None = None,
    ) -> CacheEntry | None:
        """A stored entry that may answer ``request``, or ``None`` (miss or bypass). ``key``, when
        given, must be ``key_for`` of the same request and scope (it saves computing it again)."""
        key = self._lookup_key(request, policy, namespace, pinned_model, policy_cfg, key)
        if key is None:
            return None
        try:
            entry = self.backend.get(key)
        except CacheUnavailable as exc:
            self._failed("lookup", exc)
            return None
        return self._accept(entry, namespace, required_quality, pinned_model)

    def store(
        self,
        request: Mapping[str, Any],
        *,
        policy: str,
        namespace: str,
        pinned_model: str | None,
        model: str,
        model_quality: float,
        response_dict: Mapping[str, Any],
        usage_dict: Mapping[str, Any],
        cost_usd: Decimal | str,
        finish_reason: str | None,
        policy_cfg: PolicyCacheConfig | None = None,
        key: str | None = None,
    ) -> CacheEntry | None:
        """Store a complete response if the rules allow; returns the entry stored, if any."""
        entry = self._new_entry(
            request, policy=policy, namespace=namespace, pinned_model=pinned_model, model=model,
            model_quality=model_quality, response_dict=response_dict, usage_dict=usage_dict,
            cost_usd=cost_usd, finish_reason=finish_reason, policy_cfg=policy_cfg, known=key,
        )  # fmt: skip
        if entry is None:
            return None
        try:
            self.backend.set(entry)
        except CacheUnavailable as exc:
            self._failed("store", exc)
            return None
        self._count("stored")
        return entry

    @contextlib.contextmanager
    def single_flight(self, key: str | None) -> Iterator[None]:
        """Hold the per-key lock of this process (no-op for ``None``): concurrent misses on
        one key wait here, and all but the first find the entry on their second lookup."""
        if key is None:
            yield
            return
        lock = self._thread_locks.acquire_slot(key)
        try:
            with lock:
                yield
        finally:
            self._thread_locks.release_slot(key)

    def get(self, key: str, *, namespace: str, required_quality: float | None,
            pinned_model: str | None) -> CacheEntry | None:
        """The entry under ``key`` if it may answer a request of this scope: :meth:`lookup` for a
        caller that has applied the caching rules and computed the key itself."""
        try:
            entry = self.backend.get(key)
        except CacheUnavailable as exc:
            self._failed("lookup", exc)
            return None
        return self._accept(entry, namespace, required_quality, pinned_model)

    async def aget(self, key: str, *, namespace: str, required_quality: float | None,
                   pinned_model: str | None) -> CacheEntry | None:
        """The async twin of :meth:`get`."""
        try:
            entry = await self.backend.aget(key)
        except CacheUnavailable as exc:
            self._failed("lookup", exc)
            return None
        return self._accept(entry, namespace, required_quality, pinned_model)

    def count_bypass(self) -> None:
        """Count a request the rules kept away from the cache (decided by the caller)."""
        self._count("bypassed")

    def enter_flight(self, key: str) -> threading.Lock:
        """Take the per-key lock of this process (the single-flight of :meth:`single_flight`,
        for a caller that cannot hold a ``with`` block open); give it back with :meth:`leave_flight`."""
        lock = self._thread_locks.acquire_slot(key)
        try:
            lock.acquire()
        except BaseException:
            self._thread_locks.release_slot(key)
            raise
        return lock

    def leave_flight(self, key: str, lock: threading.Lock) -> None:
        lock.release()
        self._thread_locks.release_slot(key)

    async def aenter_flight(self, key: str) -> asyncio.Lock:
        """The async twin of :meth:`enter_flight`."""
        lock = self._task_locks.acquire_slot(key)
        try:
            await lock.acquire()
        except BaseException:
            self._task_locks.release_slot(key)
            raise
        return lock

    def aleave_flight(self, key: str, lock: asyncio.Lock) -> None:
        lock.release()
        self._task_locks.release_slot(key)

    def _failed(self, what: str, exc: CacheUnavailable) -> None:
        logger.warning("cache %s failed, continuing uncached: %s", what, exc)
        self._count("errors")

    # -- async ---------------------------------------------------------------------------

    async def alookup(
        self,
        request: Mapping[str, Any],
        *,
        policy: str,
        namespace: str,
        required_quality: float | None,
        pinned_model: str | None,
        policy_cfg: PolicyCacheConfig | None = None,
        key: str | None = None,
    ) -> CacheEntry | None:
        """The async twin of ``lookup``."""
        key = self._lookup_key(request, policy, namespace, pinned_model, policy_cfg, key)
        if key is None:
            return None
        try:
            entry = await self.backend.aget(key)
        except CacheUnavailable as exc:
            self._failed("lookup", exc)
            return None
        return self._accept(entry, namespace, required_quality, pinned_model)

    async def astore(
        self,
        request: Mapping[str, Any],
        *,
        policy: str,
        namespace: str,
        pinned_model: str | None,
        model: str,
        model_quality: float,
        response_dict: Mapping[str, Any],
        usage_dict: Mapping[str, Any],
        cost_usd: Decimal | str,
        finish_reason: str | None,
        policy_cfg: PolicyCacheConfig | None = None,
        key: str | None = None,
    ) -> CacheEntry | None:
        """The async twin of ``store``."""
        entry = self._new_entry(
            request, policy=policy, namespace=namespace, pinned_model=pinned_model, model=model,
            model_quality=model_quality, response_dict=response_dict, usage_dict=usage_dict,
            cost_usd=cost_usd, finish_reason=finish_reason, policy_cfg=policy_cfg, known=key,
        )  # fmt: skip
        if entry is None:
            return None
        try:
            await self.backend.aset(entry)
        except CacheUnavailable as exc:
            self._failed("store", exc)
            return None
        self._count("stored")
        return entry

    @contextlib.asynccontextmanager
    async def asingle_flight(self, key: str | None) -> AsyncIterator[None]:
        """The async twin of ``single_flight`` (an ``asyncio.Lock`` per key; use it from one
        event loop per ``ResponseCache``)."""
        if key is None:
            yield
            return
        lock = self._task_locks.acquire_slot(key)
        try:
            async with lock:
                yield
        finally:
            self._task_locks.release_slot(key)
