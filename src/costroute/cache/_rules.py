"""The caching rules: pure functions over plain data, no I/O.

    is_cacheable(request, policy_cfg)  may this request be served from / stored in the cache?
    usable(entry, ...)                 may this stored entry answer this request?
    resolve_namespace(...)             which tenant's slice of the cache does a request see?
    entry_expiry(...)                  when does a new entry expire?
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from costroute._errors import RequestValidationError
from costroute.cache._config import CacheConfig, PolicyCacheConfig
from costroute.cache._entry import CacheEntry

__all__ = [
    "CacheDecision",
    "entry_expiry",
    "is_cacheable",
    "resolve_namespace",
    "usable",
]

REFRESH = "refresh"


class CacheDecision(NamedTuple):
    """Unpacks as ``(cacheable, reason)``. ``cacheable`` means the response may be stored;
    ``lookup`` says whether to look for a stored one first (false for ``cache="refresh"``)."""

    cacheable: bool
    reason: str

    @property
    def lookup(self) -> bool:
        return self.cacheable and self.reason != REFRESH

    @property
    def store(self) -> bool:
        return self.cacheable


def _deterministic(request: Mapping[str, Any]) -> bool:
    temperature = request.get("temperature")
    zero_temperature = (
        isinstance(temperature, (int, float))
        and not isinstance(temperature, bool)
        and temperature == 0
    )
    return zero_temperature or request.get("seed") is not None


def is_cacheable(
    request: Mapping[str, Any],
    policy_cfg: PolicyCacheConfig | None = None,
    *,
    config: CacheConfig | None = None,
) -> CacheDecision:
    """Decide whether ``request`` may use the cache.

    Only deterministic requests are cached by default: a ``temperature`` of 0 given by the
    caller (an omitted temperature is not 0), or a ``seed``. ``cache=True`` opts a
    non-deterministic request in; ``n > 1`` still needs determinism (the choices would differ).
    ``cache=False`` bypasses the cache; ``cache="refresh"`` skips the lookup but stores.
    """
    flag = request.get("cache")
    if flag is not None and flag is not True and flag is not False and flag != REFRESH:
        raise RequestValidationError(
            "must be true, false or 'refresh'", location="cache"
        )
    if flag is False:
        return CacheDecision(False, "cache=False")
    enabled = config.enabled if config is not None else True
    if policy_cfg is not None and policy_cfg.enabled is not None:
        enabled = policy_cfg.enabled
    if not enabled:
        return CacheDecision(False, "cache disabled")
    deterministic = _deterministic(request)
    n = request.get("n")
    if isinstance(n, int) and n > 1 and not deterministic:
        return CacheDecision(False, "n>1 without temperature=0 or seed")
    if not deterministic and flag is not True:
        return CacheDecision(False, "not deterministic (no temperature=0, no seed)")
    if flag == REFRESH:
        return CacheDecision(True, REFRESH)
    return CacheDecision(True, "deterministic" if deterministic else "cache=True")


def usable(
    entry: CacheEntry,
    *,
    required_quality: float | None,
    pinned_model: str | None,
    now: float,
) -> bool:
    """May ``entry`` answer the request? Never once expired. A pinned request takes only an
    entry from its own model; a routed one only an entry whose model quality reaches the
    required tier's minimum."""
    if entry.expired(now):
        return False
    if pinned_model is not None:
        return entry.model == pinned_model
    return required_quality is None or entry.model_quality >= required_quality


def resolve_namespace(
    *,
    tags: Mapping[str, str] | None,
    cache_namespace: str | None,
    namespace_tag: str,
) -> str:
    """An explicit ``cache_namespace`` wins, else the value of the tag ``namespace_tag``;
    untagged requests share the empty namespace ``""``."""
    if cache_namespace is not None:
        return str(cache_namespace)
    if tags and tags.get(namespace_tag) is not None:
        return str(tags[namespace_tag])
    return ""


def entry_expiry(
    now: float, config: CacheConfig, policy_cfg: PolicyCacheConfig | None
) -> float | None:
    """``now`` plus the policy's ``ttl_s``, else the global one; ``None`` never expires."""
    ttl = policy_cfg.ttl_s if policy_cfg is not None and policy_cfg.ttl_s is not None else None
    if ttl is None:
        ttl = config.ttl_s
    return None if ttl is None else now + ttl
