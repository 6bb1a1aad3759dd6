"""The shared core of every driver: routing, pricing and accounting, with no I/O.

An :class:`Engine` is built once from a configuration. For each request it validates, classifies,
routes (:meth:`Engine.plan`), builds each attempt's provider call and its worst case, and turns a
provider's answer or failure into a :class:`~costroute.RouteInfo` and the spend record to book.
The request's life (:mod:`costroute._loop`) asks it; drivers do the I/O.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Generic, TypeVar

from ._accounting import Books
from ._catalog import Catalog, ResolvedPolicy
from ._errors import ProviderError, RequestValidationError, UnknownModelPriceError
from ._prompt_cache import PromptCaching, session_of, stable_prefix
from ._validate import validate_messages, validate_params, validate_tags, validate_timeout
from .cache import UNCANONICAL, CanonicalRequest, ResponseCache, canonicalize
from .cascade import Call, PlannedCall
from .policies import CostrouteConfig
from .pricing._cost import cost_of, estimate_cost
from .pricing._registry import PriceRegistry
from .pricing._sheet import Usage
from .providers import Completer, ProviderCall
from .providers._table import provider_rules
from .router._classifier import Classification
from .router._media import MediaPart, media_parts, media_upper_bound
from .router._select import (
    Candidate,
    Decision,
    RankedCandidate,
    RequestNeeds,
    reject_reason,
    required_tier,
    select,
)
from .router._sessions import SessionTable
from .router._tokens import (
    IMAGE_TOKENS,
    MessageTokenCache,
    count_message_tokens,
    default_counter,
    encoding_for,
    image_parts,
)
from .spend import Budgets, Tags

__all__ = ["Engine", "Plan"]


#: Parameters costroute consumes itself; everything else passes through to the provider.
_OWN = frozenset({"messages", "model", "policy", "tags", "stream", "cache", "cache_namespace", "timeout",
                  "deferrable"})
#: What the ``service_tier`` an OpenAI caller sends is priced as ("auto" lets the provider choose).
_ASKED_TIERS = {"flex": "flex", "priority": "priority"}


@dataclass(slots=True)
class Plan:
    """One routed request: what to send, to whom, in which order, and how it was decided.
    (Not frozen only because it is built on every request; nothing changes it.)"""

    request_id: str
    policy: ResolvedPolicy
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    tags: Tags
    decision: Decision
    needs: RequestNeeds
    order: tuple[str, ...]
    stream: bool = False
    prompt_hash: str = ""
    canonical: CanonicalRequest | None = None  # None: the request holds a value with no JSON form
    started: float = field(default_factory=time.perf_counter)
    timeout: float | None = None  # the caller's per-request timeout, in seconds
    media: tuple[MediaPart, ...] = ()
    service_tier: str = "default"  # the tier asked for: flex (deferrable), priority, batch
    role: str = "answer"  # why its calls are made (a cascade's steps and verifiers, a shadow call...)
    step: int = 0  # its place in a cascade
    parent_request_id: str = ""  # the user's request a learning call (shadow, judge) was made for
    session: str = ""  # the session it belongs to (its ``session`` tag or ``prompt_cache_key``)
    cache_prefix: tuple[int, int] = (0, 0)  # the stable prefix: (leading system messages, tokens)


class Engine(Books, PromptCaching):
    """Routing, pricing and accounting for one client. Thread-safe: it holds no per-request state."""

    def __init__(
        self,
        config: CostrouteConfig,
        *,
        completer: Completer,
        ledger: Any,
        registry: PriceRegistry | None = None,
        budgets: Budgets | None = None,
        cache: ResponseCache | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.catalog = Catalog(config, registry)
        self.completer = completer
        self.ledger = ledger
        self.budgets = budgets
        self.cache = cache
        self._decisions: _Memo[tuple[Any, ...], tuple[Decision, RequestNeeds, tuple[str, ...]]] = _Memo(4096)
        # what replaying a cached entry costs, and its response object, computed once per entry
        # (response objects only for entries up to ANSWER_BYTES: at most 256 x 64 KiB held)
        self._replayed: _Memo[tuple[Any, ...], tuple[Usage, Decimal, Decimal]] = _Memo(1024)
        self._answers: _Memo[tuple[Any, ...], Any] = _Memo(256)
        self._tokens = MessageTokenCache()  # each message's prompt tokens, counted once
        self._encoding: str | None = None  # the smallest encoding the configured models need
        self._now = clock or (lambda: datetime.now(timezone.utc))
        self.sessions = SessionTable()  # what each session's provider caches (see _prompt_cache)

    # -- planning (pure but for the classifier and the token counter) ---------------------------

    def plan(self, kwargs: Mapping[str, Any], *, stream: bool = False, request_id: str | None = None,
             service_tier: str | None = None) -> Plan:
        """Validate a ``create(...)`` call and route it. Raises before any money is spent.
        ``service_tier`` (``batch`` for a batch) overrides the tier the request asks for."""
        messages = validate_messages(kwargs.get("messages"))
        params = {k: v for k, v in kwargs.items() if k not in _OWN and v is not None}
        validate_params(params)
        timeout = validate_timeout(kwargs.get("timeout"))
        tags = Tags(validate_tags(kwargs.get("tags")))
        policy = self.catalog.policy(kwargs.get("policy") or "default")
        tier = service_tier or self._asked_tier(kwargs, params, policy)
        model = kwargs.get("model")
        pinned = self.catalog.resolve(str(model)) if model and model != "auto" else None
        try:
            canonical: CanonicalRequest | None = canonicalize({"messages": messages, **params})
        except UNCANONICAL:
            canonical = None
        digest = _prompt_hash(canonical, messages, params)
        memo_key = (policy.name, pinned, digest, params.get("max_tokens"), params.get("max_completion_tokens"), stream,
                    tier)
        routed = self._decisions.get(memo_key)
        if routed is None:
            decision, needs = self._decide(messages, params, policy, pinned, stream, tier)
            routed = (decision, needs, self._order(decision, policy, needs, tier))
            self._decisions.put(memo_key, routed)
        decision, needs, order = routed
        session = session_of(tags, params)
        auto = policy.config.prompt_cache == "auto"
        prefix = stable_prefix(messages, params.get("tools")) if auto or session else (0, 0)
        if session and pinned is None and policy.config.session.sticky and policy.cascade is None:
            sticky = self.session_route(decision, policy, needs, tier, messages, params, session, prefix)
            if sticky is not decision:
                decision, order = sticky, self._order(sticky, policy, needs, tier)
        return Plan(
            request_id=request_id or new_request_id(), policy=policy, messages=messages, params=params,
            tags=tags, decision=decision, needs=needs, order=order,
            stream=stream, prompt_hash=digest, canonical=canonical, timeout=timeout,
            media=media_parts(messages), service_tier=tier, session=session, cache_prefix=prefix,
        )

    @staticmethod
    def _asked_tier(kwargs: Mapping[str, Any], params: Mapping[str, Any], policy: ResolvedPolicy) -> str:
        deferrable = kwargs.get("deferrable")
        if deferrable is not None and not isinstance(deferrable, bool):
            raise RequestValidationError(f"must be true or false, not {deferrable!r}", location="deferrable")
        if deferrable or (deferrable is None and policy.config.deferrable):
            return "flex"
        return _ASKED_TIERS.get(str(params.get("service_tier")), "default")

    def candidate(self, plan: Plan, model: str, tier: str | None = None) -> Candidate:
        """``model`` priced at ``tier`` (default: the tier the plan asks for, where it offers it)."""
        return self.catalog.at_tier(self.catalog.candidate(model), plan.service_tier if tier is None else tier)

    def _decide(self, messages: list[dict[str, Any]], params: Mapping[str, Any], policy: ResolvedPolicy,
                pinned: str | None, stream: bool, tier: str) -> tuple[Decision, RequestNeeds]:
        """Classify and route. Deterministic, so repeats of a request are served from a memo."""
        classification = policy.classifier.classify(messages)
        needs = self._needs(messages, params, policy, stream)
        if pinned is not None:
            decision = self._pin(pinned, classification, needs, policy, tier)
        else:
            decision = select(
                difficulty=classification.score, needs=needs, pool=self.catalog.tier_pool(policy, tier),
                tiers=self.config.tiers, thresholds=policy.thresholds, policy=policy.name,
                escalate=policy.config.escalate,
            )
        return replace(decision, signals=dict(classification.signals), label=classification.label), needs

    def route(self, kwargs: Mapping[str, Any]) -> Decision:
        return self.plan(kwargs).decision

    def _needs(
        self, messages: list[dict[str, Any]], params: Mapping[str, Any], policy: ResolvedPolicy, stream: bool
    ) -> RequestNeeds:
        cap = params.get("max_tokens") or params.get("max_completion_tokens")
        estimate = policy.config.output_tokens_estimate
        fmt = params.get("response_format")
        try:
            input_tokens = count_message_tokens(messages, tools=params.get("tools"),
                                                counter=self._counter(policy), cache=self._tokens)
        except UNCANONICAL as exc:  # what cannot be counted cannot be sent either
            raise RequestValidationError(
                f"cannot be written as JSON for the provider ({type(exc).__name__}: {str(exc)[:120]})",
                location="tools" if params.get("tools") else "messages",
            ) from None
        return RequestNeeds(
            input_tokens=input_tokens,
            output_tokens=min(estimate, cap) if cap else estimate,
            max_output_tokens=cap or policy.config.max_output_tokens,
            tools=bool(params.get("tools") or params.get("functions")),
            vision=image_parts(messages) > 0,
            json_output=_wants_json(fmt),
            stream=stream,
            cap_from_caller=bool(cap),
        )

    def _counter(self, policy: ResolvedPolicy) -> Any:
        """The token counter for the configured models, loaded on first use: the smallest
        encoding that serves them all (see ``encoding_for``)."""
        if self._encoding is None:
            models = [m.name for m in self.config.models] or [c.name for c in policy.pool]
            self._encoding = encoding_for([(m, self.catalog.candidate(m).provider) for m in models])
        return default_counter(self._encoding)

    def _pin(self, model: str, c: Classification, needs: RequestNeeds, policy: ResolvedPolicy,
             tier: str) -> Decision:
        candidate = self.catalog.at_tier(self.catalog.candidate(model), tier)
        if candidate.sheet is None:
            if tier != "default" and self.catalog.candidate(model).sheet is not None:
                raise RequestValidationError(f"{model} has no {tier} price or {tier} service", location="model")
            raise UnknownModelPriceError(model, suggestions=self.catalog.registry.suggestions(model))
        cost = estimate_cost(candidate.sheet, needs.input_tokens, needs.output_tokens)
        needed = required_tier(c.score, policy.thresholds, self.config.tiers)
        ranked = (RankedCandidate(candidate.name, candidate.quality, cost),)
        return Decision(  # the tier the pinned model is, next to the one the prompt needed
            model=candidate.name, tier=self._tier_of(candidate.quality), required_tier=needed,
            difficulty=c.score, policy=policy.name,
            candidates=ranked, input_tokens=needs.input_tokens, est_cost_usd=cost, pinned=True,
            service_tier=candidate.service_tier,
        )

    def _order(self, decision: Decision, policy: ResolvedPolicy, needs: RequestNeeds, tier: str) -> tuple[str, ...]:
        """The chosen model, its configured fallbacks, then the other eligible models by cost.
        A configured fallback is tried only if it can serve the request (priced, able to do what
        it asks, with room for it): never a model nothing prices."""
        if decision.pinned:
            return (decision.model,)
        order = [decision.model]
        for name in policy.config.fallbacks.get(decision.model, []):
            candidate = self.catalog.at_tier(self.catalog.candidate(name), tier)
            if name not in order and reject_reason(candidate, needs) is None:
                order.append(name)
        if len(order) == 1:
            return (*order, *decision.fallbacks)
        seen = set(order)  # the selection's own fallbacks passed these checks in the same pool
        return (*order, *(name for name in decision.fallbacks if name not in seen))

    # -- attempts ------------------------------------------------------------------------------

    def _answer_cap(self, plan: Plan, candidate: Candidate) -> int | None:
        """The caller's ``max_tokens``, else the policy's cap (within what the model allows)."""
        given = plan.params.get("max_tokens") or plan.params.get("max_completion_tokens")
        if given:
            return int(given)
        cap = plan.policy.config.max_output_tokens
        if cap and candidate.max_output_tokens:
            cap = min(cap, candidate.max_output_tokens)
        return cap

    def call_for(self, plan: Plan, model: str, tier: str | None = None) -> ProviderCall:
        """The provider call of an attempt at ``model`` (at ``tier``: the plan's by default)."""
        candidate = self.candidate(plan, model, tier)
        spec = self.catalog.model_config(model)
        params = dict(plan.params)
        cap = self._answer_cap(plan, candidate)
        if cap and not (params.get("max_tokens") or params.get("max_completion_tokens")):
            params["max_tokens"] = cap
        if spec is not None:
            params.update({k: v for k, v in spec.extra_params.items() if k not in params})
        timeout = plan.timeout or (spec.timeout_s if spec else 60.0)
        rules = provider_rules(candidate.provider)
        if candidate.service_tier == "flex" and rules.flex is not None:
            params.update({k: v for k, v in rules.flex.parameter.items() if k not in params})
            if rules.flex.timeout_s and not plan.timeout and not (spec and "timeout_s" in spec.model_fields_set):
                timeout = rules.flex.timeout_s  # flex answers may take longer than the default allows
        elif candidate.service_tier == "priority" and rules.priority_parameter is not None:
            params.update({k: v for k, v in rules.priority_parameter.items() if k not in params})
        elif tier == "default" and plan.service_tier == "flex":
            params.pop("service_tier", None)  # a refused flex request, asked again at the default tier
        if rules.wire_format != "openai-chat":  # asked by a logprob verifier; only OpenAI's wire has them
            params.pop("logprobs", None)
            params.pop("top_logprobs", None)
            params.pop("prompt_cache_key", None)  # OpenAI's conversation id; a session here
        messages = self.mark(plan, model, plan.messages, params)  # prompt_cache: auto
        return ProviderCall(
            model=model, messages=messages, params=params, provider=candidate.provider,
            api_base=spec.api_base if spec else None, api_key=spec.api_key if spec else None,
            timeout=timeout,
        )

    # -- budgets -------------------------------------------------------------------------------

    def worst_case(self, plan: Plan, model: str, tier: str | None = None) -> Decimal:
        """The most this attempt can cost, at list price: the whole prompt (media parts at their
        per-model upper bound, never more than the context window) and ``n`` answers of the cap."""
        candidate = self.candidate(plan, model, tier)
        assert candidate.sheet is not None
        cap = self._answer_cap(plan, candidate) or plan.needs.output_tokens
        answers = int(plan.params.get("n") or 1)
        prompt, written = self.prompt_bound(plan, model), self.marked(plan, model)  # a marked prefix may be written
        written = min(written, prompt)
        return cost_of(candidate.sheet, Usage(input_tokens=prompt - written, cache_write_tokens=written,
                                              output_tokens=cap * answers))

    def prompt_bound(self, plan: Plan, model: str) -> int:
        """The most prompt tokens ``model`` can bill for the plan's request."""
        tokens = plan.needs.input_tokens
        if not plan.media:
            return tokens
        candidate = self.catalog.candidate(model)
        spec = self.catalog.model_config(model)
        counted = IMAGE_TOKENS * sum(1 for m in plan.media if m.kind == "image")  # in input_tokens already
        bound = media_upper_bound(plan.media, model, candidate.provider, candidate.max_input_tokens,
                                  image_tokens=spec.max_image_tokens if spec else None)
        tokens = tokens - counted + bound
        return min(tokens, candidate.max_input_tokens) if candidate.max_input_tokens else tokens

    def reservation_args(self, plan: Plan, model: str, *, amount: Decimal | None = None,
                         tier: str | None = None) -> dict[str, Any]:
        """What to reserve before an attempt at ``model`` (its worst case at ``tier``, or ``amount``)."""
        if amount is None:
            amount = self.worst_case(plan, model, tier)
        return {"request_id": plan.request_id, "amount": amount,
                "tags": plan.tags, "policy": plan.policy.name, "model": model}

    # -- cascades ------------------------------------------------------------------------------

    def subplan(self, plan: Plan, call: Call) -> Plan:
        """The plan of one call a cascade makes: the request itself (with the call's parameters and
        cap) or a verifier's own messages, at ``call.model``, booked with its role and step."""
        params = {**plan.params, **call.params}
        if call.max_output_tokens:
            params["max_tokens"] = call.max_output_tokens
            params.pop("max_completion_tokens", None)
        messages, needs, media = plan.messages, plan.needs, plan.media
        if call.messages is not None:
            messages = [dict(m) for m in call.messages]
            needs = self._needs(messages, params, plan.policy, False)
            media = media_parts(messages)
        return replace(plan, messages=messages, params=params, needs=needs, media=media, order=(call.model,),
                       stream=False, role=call.role, step=call.step)

    def cascade_worst_cases(self, plan: Plan, calls: Sequence[PlannedCall]) -> dict[str, Decimal]:
        """What to reserve, per model, before a cascade's first call: every call it may make."""
        out: dict[str, Decimal] = {}
        answers = int(plan.params.get("n") or 1)
        for call in calls:
            candidate = self.candidate(plan, call.model)
            assert candidate.sheet is not None  # the catalog refuses unpriced cascade models
            cap = call.max_output_tokens or self._answer_cap(plan, candidate) or plan.needs.output_tokens
            judged = self._answer_cap(plan, candidate) or plan.needs.output_tokens if call.includes_answer else 0
            usage = Usage(input_tokens=self.prompt_bound(plan, call.model) + call.extra_input_tokens + judged,
                          output_tokens=cap * (answers if call.role == "cascade_step" else 1))
            out[call.model] = out.get(call.model, Decimal(0)) + cost_of(candidate.sheet, usage)
        return out

    def tier_for(self, plan: Plan, model: str) -> str:
        """The service tier an attempt at ``model`` starts at."""
        return self.candidate(plan, model).service_tier

    def flex_refused(self, plan: Plan, model: str, exc: BaseException) -> bool:
        """Whether ``exc`` is the provider refusing a flex request for capacity (not billed)."""
        flex = provider_rules(self.catalog.candidate(model).provider).flex
        return (flex is not None and isinstance(exc, ProviderError) and exc.status_code == flex.refusal_status
                and (not flex.refusal_codes or exc.code in flex.refusal_codes))

    def downgrades(self, plan: Plan, refused: str, tried: Sequence[str]) -> list[str]:
        """Where to go when a ``downgrade`` budget refused ``refused``: the cheaper candidates that
        can serve the request, best first."""
        ceiling = self.worst_case(plan, refused)
        options = [
            c for c in plan.policy.pool
            if c.name not in tried and c.sheet is not None
            and reject_reason(c, plan.needs) is None and self.worst_case(plan, c.name) < ceiling
        ]
        options.sort(key=lambda c: (-c.quality, self.worst_case(plan, c.name), c.name))
        return [c.name for c in options]

def new_request_id() -> str:
    return "cr-" + os.urandom(16).hex()


def _wants_json(fmt: Any) -> bool:
    """Whether ``response_format`` asks for JSON: a ``{"type": "json_object" | "json_schema"}``
    mapping, a pydantic model class (litellm turns it into a JSON schema), or an object whose
    ``model_dump()`` is such a mapping. Spellings that mean the same route the same (the routing
    memo is keyed on the canonical form, which does not tell them apart)."""
    if isinstance(fmt, type):
        return callable(getattr(fmt, "model_json_schema", None))
    dump = getattr(fmt, "model_dump", None)
    if not isinstance(fmt, Mapping) and callable(dump):
        try:
            fmt = dump()
        except Exception:
            return False
    return isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema")


_ROUTED = ("tools", "functions", "response_format")


def _prompt_hash(canonical: CanonicalRequest | None, messages: Sequence[Mapping[str, Any]],
                 params: Mapping[str, Any]) -> str:
    """A digest of everything routing reads: the conversation, tool schemas, the output format.
    Made from the request's canonical form (shared with the cache key) when it has one."""
    if canonical is None:
        routed: Any = [messages, *(params.get(k) for k in _ROUTED)]
        try:
            blob = json.dumps(routed, sort_keys=True, separators=(",", ":"), default=str)
        except UNCANONICAL:  # no JSON form at all: a digest of its own, never shared by the memo
            blob = os.urandom(16).hex()
    else:
        extra = {k: v for k in _ROUTED if (v := canonical.params.get(k)) is not None}
        blob = canonical.messages + "\n" + (json.dumps(extra, sort_keys=True, separators=(",", ":")) if extra else "")
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:32]


_K = TypeVar("_K")
_V = TypeVar("_V")


class _Memo(Generic[_K, _V]):
    """A small thread-safe LRU map."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[_K, _V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _K) -> _V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: _K, value: _V) -> None:
        with self._lock:
            self._items[key] = value
            if len(self._items) > self._size:
                self._items.popitem(last=False)

