"""Where a request meets the response cache: what its key is made of, whether it may be looked up
and stored, and what a stored answer holds. The rules themselves live in :mod:`costroute.cache`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .cache import CacheEntry, PolicyCacheConfig, ResponseCache, StreamAccumulator, is_cacheable, resolve_namespace

if TYPE_CHECKING:
    from ._engine import Engine, Plan
    from ._types import RouteInfo

__all__ = ["CacheCall", "cache_call", "response_dict", "store_args"]


@dataclass(frozen=True, slots=True)
class CacheCall:
    """One request's view of the cache: the request the key is made of, the lookup scope, and
    what the rules allow (``lookup_first``: look before calling; ``storable``: keep the answer)."""

    cache: ResponseCache
    request: dict[str, Any]
    policy: str
    namespace: str
    pinned_model: str | None
    required_quality: float | None
    policy_cfg: PolicyCacheConfig | None
    key: str | None
    lookup_first: bool = True
    storable: bool = True

    def lookup(self) -> CacheEntry | None:
        assert self.key is not None
        return self.cache.get(self.key, namespace=self.namespace, required_quality=self.required_quality,
                              pinned_model=self.pinned_model)

    async def alookup(self) -> CacheEntry | None:
        assert self.key is not None
        return await self.cache.aget(self.key, namespace=self.namespace, required_quality=self.required_quality,
                                     pinned_model=self.pinned_model)

    def store_args(self, *, model: str, quality: float, response: Mapping[str, Any], cost: Any) -> dict[str, Any]:
        choices = response.get("choices") or [{}]
        return {
            "policy": self.policy, "namespace": self.namespace, "pinned_model": self.pinned_model,
            "policy_cfg": self.policy_cfg, "model": model, "model_quality": quality,
            "response_dict": response, "usage_dict": response.get("usage") or {}, "cost_usd": cost,
            "finish_reason": choices[0].get("finish_reason"), "key": self.key,
        }

    def accumulator(self) -> StreamAccumulator:
        return StreamAccumulator(expected_choices=int(self.request.get("n") or 1))


def cache_call(cache: ResponseCache | None, plan: Plan, kwargs: Mapping[str, Any],
               tiers: Mapping[str, float]) -> CacheCall | None:
    """The cache view of a planned request; ``None`` when no cache is configured or the rules say
    the request can neither be looked up nor stored (then nothing about it touches the cache:
    no key, no single-flight, no copy of its answer)."""
    if cache is None:
        return None
    flag = kwargs.get("cache")
    request: dict[str, Any] = {"messages": plan.messages, **plan.params}
    if flag is not None:
        request["cache"] = flag
    rules = is_cacheable(request, plan.policy.config.cache, config=cache.config)
    if not rules.store:
        cache.count_bypass()
        return None
    decision = plan.decision
    pinned = decision.model if decision.pinned else None
    namespace = resolve_namespace(tags=plan.tags, cache_namespace=kwargs.get("cache_namespace"),
                                  namespace_tag=cache.config.namespace_tag)
    policy = plan.policy.name
    key = None if plan.canonical is None else cache.key_for(
        plan.canonical, policy=policy, namespace=namespace, pinned_model=pinned)
    if key is None:  # no canonical form: nothing can be found or kept under it
        cache.count_bypass()
        return None
    if not rules.lookup:
        cache.count_bypass()  # cache="refresh": call, then store over the old entry
    required = None if pinned else tiers[decision.tier]
    return CacheCall(cache, request, policy, namespace, pinned, required, plan.policy.config.cache, key,
                     lookup_first=rules.lookup, storable=True)


def store_args(engine: Engine, cached: CacheCall, info: RouteInfo, *, response: Any) -> dict[str, Any]:
    """What to store for an answered request (``response`` a provider response or its dict)."""
    data = response if isinstance(response, Mapping) else response_dict(response)
    quality = engine.catalog.candidate(info.model).quality
    return cached.store_args(model=info.model, quality=quality, response=data, cost=info.cost_usd)


def response_dict(response: Any) -> dict[str, Any]:
    """A provider response (litellm's ``ModelResponse``) as plain JSON-able data."""
    dump = getattr(response, "model_dump", None)
    data = dump() if callable(dump) else dict(response)
    return {k: v for k, v in data.items() if not k.startswith("_")}
