"""The resolved model pool and policies: configuration joined with prices, capabilities, quality.

Built once per client, so the per-request path only does dictionary look-ups.
"""

from __future__ import annotations

import dataclasses
import difflib
import threading
from dataclasses import dataclass

from ._errors import ConfigError, RequestValidationError
from .cascade import Cascade
from .policies import CostrouteConfig, ModelConfig, PolicyConfig, known_quality
from .pricing import price_sheet, restate
from .pricing._registry import PriceRegistry, provider_prefix
from .pricing._sheet import ModelInfo, PriceSheet
from .pricing._sources import StaticSource
from .providers._table import provider_rules
from .router import Classifier, load_classifier
from .router._select import Candidate, default_thresholds

__all__ = ["Catalog", "ResolvedPolicy"]


@dataclass(frozen=True, slots=True)
class ResolvedPolicy:
    name: str
    config: PolicyConfig
    pool: tuple[Candidate, ...]
    thresholds: dict[str, float]
    classifier: Classifier
    baseline_model: str
    baseline: PriceSheet
    cascade: Cascade | None = None  # ``strategy: cascade``: the steps, verifiers and final model


def _sheet_from_config(spec: ModelConfig) -> PriceSheet | None:
    if spec.price is None:
        return None
    return price_sheet(spec.name, spec.price, source="config", effective_date=spec.price.effective_date)


def _registry_for(config: CostrouteConfig) -> PriceRegistry:
    """Config prices in front of the standard chain; the chain's sources are read once and shared.
    A config price that restates the known list price keeps what it leaves out (``restate``)."""
    known = PriceRegistry.default(files=config.price_files, plugins=config.pricing_plugins)
    overrides = [restate(s, known.find(s.model)) for s in map(_sheet_from_config, config.models) if s is not None]
    if not overrides:
        return known
    return PriceRegistry([StaticSource(overrides, name="config"), *known.sources])


class Catalog:
    """Candidates by name, and policies resolved against them."""

    def __init__(self, config: CostrouteConfig, registry: PriceRegistry | None = None) -> None:
        self.config = config
        self.registry = registry or _registry_for(config)
        self._specs = {m.name: m for m in config.models}
        self._aliases: dict[str, str] = {}
        for i, m in enumerate(config.models):
            first = self._aliases.setdefault(self.registry.canonical(m.name), m.name)
            if first != m.name:
                where = f"models[{i}].name"
                raise ConfigError(f"{where}: {m.name!r} is another spelling of {first!r}, listed already",
                                  problems=[(where, "listed twice")])
        self._candidates: dict[str, Candidate] = {}
        self._tiered: dict[tuple[str, str], Candidate] = {}
        self._tier_pools: dict[tuple[str, str], tuple[Candidate, ...]] = {}
        self._lock = threading.Lock()
        pool = tuple(self.candidate(m.name) for m in config.models)
        missing = [(f"models[{i}].quality", "no quality is known for this model; set `quality:`")
                   for i, c in enumerate(pool) if c.quality < 0]
        if missing:
            raise ConfigError("invalid costroute configuration:\n" +
                              "\n".join(f"  {loc}: {msg}" for loc, msg in missing), problems=missing)
        self.policies = {name: self._resolve(name, p, pool) for name, p in config.policies.items()}

    def model_config(self, model: str) -> ModelConfig | None:
        return self._specs.get(model)

    def resolve(self, model: str) -> str:
        """The configured name of ``model`` when it is another spelling of a configured model
        (``gpt-4o`` for ``openai/gpt-4o``), so its key, base URL and settings apply; else ``model``."""
        if model in self._specs:
            return model
        return self._aliases.get(self.registry.canonical(model), model)

    def candidate(self, model: str) -> Candidate:
        found = self._candidates.get(model)
        if found is None:
            with self._lock:
                found = self._candidates.get(model) or self._build(model)
                self._candidates[model] = found
        return found

    def at_tier(self, candidate: Candidate, tier: str) -> Candidate:
        """``candidate`` priced at a service tier. ``flex`` and ``priority`` where its provider
        offers the tier and a price for it is known (else the candidate as it is, at the default
        tier); ``batch`` only where both are (else unpriced, so routing passes it over)."""
        if tier == "default" or candidate.sheet is None:
            return candidate
        key = (candidate.name, tier)
        found = self._tiered.get(key)
        if found is None:
            found = self._tiered[key] = _at_tier(candidate, tier)
        return found

    def tier_pool(self, policy: ResolvedPolicy, tier: str) -> tuple[Candidate, ...]:
        """The policy's pool priced at ``tier``."""
        if tier == "default":
            return policy.pool
        key = (policy.name, tier)
        pool = self._tier_pools.get(key)
        if pool is None:
            pool = self._tier_pools[key] = tuple(self.at_tier(c, tier) for c in policy.pool)
        return pool

    def policy(self, name: str) -> ResolvedPolicy:
        try:
            return self.policies[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self.policies), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise RequestValidationError(
                f"unknown policy {name!r} (configured: {', '.join(sorted(self.policies))}){hint}",
                location="policy",
            ) from None

    def _build(self, model: str) -> Candidate:
        spec = self._specs.get(model)
        sheet = self.registry.find(model) or (_sheet_from_config(spec) if spec else None)  # config prices first
        info = self.registry.info(model) or ModelInfo(model=model)
        supports = spec.supports if spec else None
        quality = spec.quality if spec and spec.quality is not None else known_quality(model)
        provider = info.provider or (model.split("/", 1)[0] if "/" in model else "")

        def pick(own: bool | None, known: bool | None) -> bool | None:
            return own if own is not None else known

        return Candidate(
            name=model, quality=-1.0 if quality is None else quality, provider=provider, sheet=sheet,
            unpriced_reason="" if sheet else "no price in the config, price files, plug-ins or snapshot",
            max_input_tokens=(spec.max_input_tokens if spec else None) or info.max_input_tokens,
            max_output_tokens=(spec.max_output_tokens if spec else None) or info.max_output_tokens,
            supports_tools=pick(supports.tools if supports else None, info.supports_tools),
            supports_vision=pick(supports.vision if supports else None, info.supports_vision),
            supports_json=pick(supports.json_output if supports else None, info.supports_json),
            supports_streaming=pick(supports.streaming if supports else None, info.supports_streaming),
        )

    def _resolve(self, name: str, policy: PolicyConfig, pool: tuple[Candidate, ...]) -> ResolvedPolicy:
        where = f"policies.{name}"
        members = tuple(
            c for c in pool
            if (policy.models is None or c.name in policy.models)
            and (policy.providers is None or _provider_allowed(c.provider, policy.providers))
        )
        if not members:
            filters = [f for f, v in (("models", policy.models), ("providers", policy.providers)) if v is not None]
            detail = f" (check `{where}.{'` and `'.join(filters)}`)" if filters else ""
            raise ConfigError(f"{where}: no model of `models` is allowed by this policy{detail}",
                              problems=[(where, "empty model pool")])
        baseline_model = policy.baseline or _strongest(members)
        baseline = self.candidate(baseline_model).sheet
        if baseline is None:
            raise ConfigError(
                f"{where}.baseline: no price is known for {baseline_model!r}; savings cannot be measured",
                problems=[(f"{where}.baseline", "unpriced baseline")],
            )
        thresholds = dict(policy.thresholds or default_thresholds(self.config.tiers))
        try:
            classifier = load_classifier(policy.classifier)
        except (OSError, ValueError) as exc:  # ConfigError is a ValueError
            message = f"cannot load classifier {policy.classifier!r}: {exc}"
            raise ConfigError(f"{where}.classifier: {message}", problems=[(f"{where}.classifier", message)]) from exc
        cascade = None
        if policy.strategy == "cascade" and policy.cascade is not None:
            cascade = Cascade.from_config(policy.cascade, where=f"{where}.cascade")
            unpriced = [m for m in cascade.models if self.candidate(m).sheet is None]
            if unpriced:
                raise ConfigError(f"{where}.cascade: no price is known for {', '.join(unpriced)}",
                                  problems=[(f"{where}.cascade", "unpriced model")])
        return ResolvedPolicy(name, policy, members, thresholds, classifier, baseline_model, baseline, cascade)


def _at_tier(candidate: Candidate, tier: str) -> Candidate:
    assert candidate.sheet is not None
    rules = provider_rules(candidate.provider)
    offered = {"flex": rules.flex is not None, "batch": rules.batch is not None,
               "priority": rules.priority_parameter is not None}.get(tier, False)
    sheet = candidate.sheet.for_service_tier(tier) if offered else None
    if sheet is not None:
        return dataclasses.replace(candidate, sheet=sheet, service_tier=tier)
    if tier == "batch":
        return dataclasses.replace(candidate, sheet=None, unpriced_reason="no batch API or batch price for this model")
    return candidate


def _provider_allowed(provider: str, allowed: list[str] | tuple[str, ...]) -> bool:
    """``provider`` as litellm names it (``vertex_ai-language-models``) or by its model-name
    prefix (``vertex_ai``), case-insensitively."""
    names = {provider.lower(), provider_prefix(provider)}
    return any(a.lower() in names for a in allowed)


def _strongest(pool: tuple[Candidate, ...]) -> str:
    priced = [c for c in pool if c.sheet is not None] or list(pool)
    best = max(priced, key=lambda c: (c.quality, c.sheet.output_per_mtok if c.sheet else 0))
    return best.name
