"""Where the client meets the response cache: what a request's cache key is made of, what a hit
returns, and what a miss stores. The rules themselves live in :mod:`costroute.cache`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._engine import Plan
from .cache import CacheEntry, PolicyCacheConfig, ResponseCache, StreamAccumulator, resolve_namespace

__all__ = ["CacheCall", "cache_call", "response_dict"]


@dataclass(frozen=True, slots=True)
class CacheCall:
    """One request's view of the cache: the request the key is made of and the lookup scope."""

    cache: ResponseCache
    request: dict[str, Any]
    policy: str
    namespace: str
    pinned_model: str | None
    required_quality: float | None
    policy_cfg: PolicyCacheConfig | None
    key: str | None

    def lookup(self) -> CacheEntry | None:
        return self.cache.lookup(
            self.request, policy=self.policy, namespace=self.namespace, required_quality=self.required_quality,
            pinned_model=self.pinned_model, policy_cfg=self.policy_cfg, key=self.key,
        )

    async def alookup(self) -> CacheEntry | None:
        return await self.cache.alookup(
            self.request, policy=self.policy, namespace=self.namespace, required_quality=self.required_quality,
            pinned_model=self.pinned_model, policy_cfg=self.policy_cfg, key=self.key,
        )

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
    """The cache view of a planned request, or ``None`` when no cache is configured."""
    if cache is None:
        return None
    flag = kwargs.get("cache")
    request: dict[str, Any] = {"messages": plan.messages, **plan.params}
    if flag is not None:
        request["cache"] = flag
    decision = plan.decision
    pinned = decision.model if decision.pinned else None
    namespace = resolve_namespace(tags=plan.tags, cache_namespace=kwargs.get("cache_namespace"),
                                  namespace_tag=cache.config.namespace_tag)
    policy = plan.policy.name
    key = None if plan.canonical is None else cache.key_for(
        plan.canonical, policy=policy, namespace=namespace, pinned_model=pinned)
    required = None if pinned else tiers[decision.tier]
    return CacheCall(cache, request, policy, namespace, pinned, required, plan.policy.config.cache, key)


def response_dict(response: Any) -> dict[str, Any]:
    """A provider response (litellm's ``ModelResponse``) as plain JSON-able data."""
    dump = getattr(response, "model_dump", None)
    data = dump() if callable(dump) else dict(response)
    return {k: v for k, v in data.items() if not k.startswith("_")}
