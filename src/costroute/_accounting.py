"""The engine's books: turning an answer, a cache hit or a failure into what the caller is told
(a :class:`~costroute.RouteInfo`) and the spend record to book. Pure: the request loop books the
records (:class:`~costroute._loop.Record`); nothing here does I/O."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._errors import ProviderError, ProviderResponseError
from ._frozen import thaw
from ._types import RouteInfo
from .cache import CacheEntry
from .pricing._cost import cost_of, usage_from_openai
from .pricing._sheet import PriceSheet, Usage
from .providers import copy_response, response_from_dict
from .router._select import Candidate
from .router._tokens import default_counter
from .spend import SpendRecord
from .spend._money import round_micros

if TYPE_CHECKING:
    from ._catalog import Catalog
    from ._engine import Plan, _Memo
    from .policies import CostrouteConfig

__all__ = ["Books"]

#: Cached answers up to this size keep a built response object to copy on each hit.
ANSWER_BYTES = 64 * 1024


class Books:
    """The accounting half of :class:`~costroute._engine.Engine` (which provides what is declared
    here for the type checker)."""

    if TYPE_CHECKING:
        catalog: Catalog
        config: CostrouteConfig
        ledger: Any
        _now: Callable[[], datetime]
        _replayed: _Memo[tuple[Any, ...], tuple[Usage, Decimal, Decimal]]
        _answers: _Memo[tuple[Any, ...], Any]

        def candidate(self, plan: Plan, model: str, tier: str | None = None) -> Candidate: ...
        def tier_for(self, plan: Plan, model: str) -> str: ...
        def prompt_bound(self, plan: Plan, model: str) -> int: ...
        def _answer_cap(self, plan: Plan, candidate: Candidate) -> int | None: ...
        def remember(self, plan: Plan, candidate: Candidate, usage: Usage) -> None: ...

    def finish(self, plan: Plan, model: str, attempt: int, usage_block: Any, started: float,
               *, response: Any = None, tier: str | None = None) -> tuple[RouteInfo, SpendRecord]:
        """Price a completed attempt from the provider's usage (estimated from the answer's text
        when the provider sent none), at the tier that served it (an OpenAI response says which):
        what the request tells its caller, and its record."""
        candidate = self.candidate(plan, model, _served(response, tier or self.tier_for(plan, model)))
        usage = usage_from_openai(usage_block, candidate.provider) if usage_block is not None else None
        if usage is None:
            output = default_counter().count(_answer_text(response)) if response is not None else 0
            usage = Usage(input_tokens=plan.needs.input_tokens, output_tokens=output)
            return self._account(plan, candidate, attempt, usage, started, estimated=True, status="estimated",
                                 answer=response)
        return self._account(plan, candidate, attempt, usage, started, estimated=False, status="ok", answer=response)

    def finish_estimated(self, plan: Plan, model: str, attempt: int, output_text: str, started: float,
                         *, status: str, tier: str | None = None) -> tuple[RouteInfo, SpendRecord]:
        """Account for a stream that ended before its usage arrived: estimated tokens, never $0."""
        usage = Usage(input_tokens=plan.needs.input_tokens, output_tokens=default_counter().count(output_text))
        return self._account(plan, self.candidate(plan, model, tier), attempt, usage, started, estimated=True,
                             status=status)

    def _account(self, plan: Plan, candidate: Candidate, attempt: int, usage: Usage, started: float,
                 *, estimated: bool, status: str, answer: Any = None) -> tuple[RouteInfo, SpendRecord]:
        model = candidate.name
        assert candidate.sheet is not None  # routing never picks an unpriced model
        cost = cost_of(candidate.sheet, usage)
        baseline = cost_of(plan.policy.baseline, usage)
        latency = (time.perf_counter() - started) * 1000
        if estimated and status == "ok":
            status = "estimated"
        record = self._record(plan, model, attempt, usage, cost, baseline, baseline - cost, latency, status=status,
                              estimated=estimated, sheet=candidate.sheet, service_tier=candidate.service_tier,
                              answer=answer)
        if status in ("ok", "estimated"):
            self.remember(plan, candidate, usage)  # what the session's provider now caches
        d = plan.decision
        tier = d.tier if model == d.model else self._tier_of(candidate.quality)
        info = RouteInfo(
            request_id=plan.request_id, policy=plan.policy.name, difficulty=d.difficulty, label=d.label,
            tier=tier, model=model, cost_usd=cost, baseline_cost_usd=baseline, cache_hit=False,
            attempts=attempt, pinned=d.pinned, latency_ms=latency, usage=usage, saved_usd=baseline - cost,
            estimated=estimated, decision=d, service_tier=candidate.service_tier,
        )
        return info, record

    def served_from_cache(self, plan: Plan, entry: CacheEntry) -> tuple[RouteInfo, SpendRecord]:
        """Account for an answer replayed from the cache: nothing billed, the tokens marked, and
        ``saved_usd`` what the model routing chose would have cost."""
        candidate = self.catalog.candidate(entry.model)
        memo_key = (_identity(entry), plan.decision.model, plan.policy.name)
        priced = self._replayed.get(memo_key)
        if priced is None:
            usage = usage_from_openai(entry.usage, candidate.provider)
            chosen = self.catalog.candidate(plan.decision.model)
            would_have = cost_of(chosen.sheet, usage) if chosen.sheet is not None else Decimal(0)
            priced = (usage, would_have, cost_of(plan.policy.baseline, usage))
            self._replayed.put(memo_key, priced)
        usage, would_have, baseline = priced
        if usage.extra:  # the memo's Usage is shared: its one mutable part is copied per hit
            usage = replace(usage, extra=dict(usage.extra))
        latency = (time.perf_counter() - plan.started) * 1000
        record = self._record(plan, entry.model, 0, usage, Decimal(0), baseline, would_have, latency,
                              status="cache_hit")
        d = plan.decision
        info = RouteInfo(
            request_id=plan.request_id, policy=plan.policy.name, difficulty=d.difficulty, label=d.label,
            tier=d.tier if entry.model == d.model else self._tier_of(entry.model_quality), model=entry.model,
            cost_usd=Decimal(0), baseline_cost_usd=baseline, cache_hit=True, attempts=0, pinned=d.pinned,
            latency_ms=latency, usage=usage, saved_usd=would_have, decision=d,
        )
        return info, record

    def cached_answer(self, entry: CacheEntry) -> Any:
        """A fresh response object for a cached entry: built once per entry, then copied."""
        if not 0 < entry.size_bytes <= ANSWER_BYTES:
            return response_from_dict(thaw(entry.response))  # large (or unsized): built for this hit only
        identity = _identity(entry)
        built = self._answers.get(identity)
        if built is None:
            built = response_from_dict(thaw(entry.response))
            self._answers.put(identity, built)
        return copy_response(built)

    def tier_label(self, plan: Plan, model: str) -> str:
        """The quality tier ``model`` answers ``plan`` at (the routed tier for the chosen model)."""
        d = plan.decision
        return d.tier if model == d.model else self._tier_of(self.catalog.candidate(model).quality)

    def _tier_of(self, quality: float) -> str:
        tiers = self.config.tiers
        met = [t for t in tiers if tiers[t] <= quality]
        return max(met, key=lambda t: tiers[t]) if met else min(tiers, key=lambda t: tiers[t])

    def failed(self, plan: Plan, model: str, attempt: int, exc: BaseException,
               started: float, tier: str | None = None) -> tuple[SpendRecord, Decimal]:
        """The record of a failed attempt and what it may have been billed. Nothing, unless the
        provider may have done the work: an answer that arrived but could not be read is billed
        its prompt; a timeout after the request went out, or a cancellation, its prompt and the
        whole answer cap (``n`` answers): what the provider may have produced. Never $0 then."""
        status = "error" if isinstance(exc, Exception) else "cancelled"
        latency = (time.perf_counter() - started) * 1000
        usage, cost = Usage(), Decimal(0)
        candidate = self.candidate(plan, model, tier)
        sheet = candidate.sheet
        if sheet is not None and _maybe_billed(exc):
            if isinstance(exc, ProviderResponseError):
                usage = Usage(input_tokens=plan.needs.input_tokens)
            else:
                cap = (self._answer_cap(plan, candidate) or plan.needs.output_tokens) * int(plan.params.get("n") or 1)
                usage = Usage(input_tokens=self.prompt_bound(plan, model), output_tokens=cap)
            cost = cost_of(sheet, usage)
            if isinstance(exc, ProviderError):
                exc.recorded_cost = cost
        record = self._record(plan, model, attempt, usage, cost, Decimal(0), Decimal(0), latency, status=status,
                              estimated=cost > 0, error=f"{type(exc).__name__}: {exc}"[:500], sheet=sheet)
        return record, cost

    def _record(self, plan: Plan, model: str, attempt: int, usage: Usage, cost: Decimal, baseline: Decimal,
                saved: Decimal, latency: float, *, status: str, estimated: bool = False,
                error: str = "", sheet: PriceSheet | None = None, service_tier: str = "default",
                answer: Any = None) -> SpendRecord:
        candidate = self.catalog.candidate(model)
        sheet = sheet or candidate.sheet
        keep = getattr(self.ledger, "store_prompts", False)
        return SpendRecord(
            request_id=plan.request_id, attempt=attempt, ts=self._now(), model=model,
            provider=candidate.provider, status=status,  # type: ignore[arg-type]
            policy=plan.policy.name, tier=plan.decision.tier, difficulty=plan.decision.difficulty,
            input_tokens=usage.input_tokens, cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens + usage.cache_write_1h_tokens,
            output_tokens=usage.output_tokens,
            reasoning_tokens=usage.reasoning_tokens, cost_usd=round_micros(cost),
            baseline_cost_usd=round_micros(baseline), saved_usd=round_micros(saved),
            input_per_mtok=sheet.input_per_mtok if sheet else None,
            output_per_mtok=sheet.output_per_mtok if sheet else None,
            price_source=sheet.source if sheet else "", latency_ms=latency, tags=plan.tags,
            prompt_hash=plan.prompt_hash, error=error, estimated=estimated,
            prompt_text=_prompt_text(plan.messages) if keep else None,
            service_tier=service_tier,  # type: ignore[arg-type]
            role=plan.role,  # type: ignore[arg-type]
            step=plan.step, parent_request_id=plan.parent_request_id,
            answer_text=(_answer_text(answer) or None) if keep and answer is not None else None,
        )


def _served(response: Any, asked: str) -> str:
    """The tier a response says served it (OpenAI's ``service_tier``), else the one asked for."""
    served = getattr(response, "service_tier", None)
    return served if served in ("default", "flex", "priority") else asked


def _maybe_billed(exc: BaseException) -> bool:
    """Whether a failed attempt may have been billed: an unreadable answer, a timeout once the
    request may have reached the provider, or a cancellation or interrupt mid-call."""
    if not isinstance(exc, Exception):
        return True
    if isinstance(exc, ProviderResponseError):
        return True
    return isinstance(exc, ProviderError) and exc.maybe_billed


def _answer_text(response: Any) -> str:
    """Every generated text of a response's choices (for an estimate when usage is missing)."""
    parts: list[str] = []
    for choice in getattr(response, "choices", None) or ():
        message = getattr(choice, "message", None)
        for name in ("content", "reasoning_content", "refusal"):
            value = getattr(message, name, None)
            if isinstance(value, str):
                parts.append(value)
        for call in getattr(message, "tool_calls", None) or ():
            function = getattr(call, "function", None)
            parts += [v for v in (getattr(function, "name", None), getattr(function, "arguments", None))
                      if isinstance(v, str)]
    return "".join(parts)


def _identity(entry: CacheEntry) -> tuple[Any, ...]:
    """What tells versions of stored entries apart: the key and the entry's ``etag`` (an entry
    from a store that sets none falls back to its metadata)."""
    if entry.etag:
        return (entry.key, entry.etag)
    return (entry.key, entry.created_at, entry.model, entry.size_bytes, entry.finish_reason, entry.cost_usd)


def _prompt_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The conversation as text, for ledgers that keep prompts (opt-in)."""
    def text(content: Any) -> str:
        if isinstance(content, list):
            return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
        return "" if content is None else str(content)

    if len(messages) == 1:
        return text(messages[0].get("content"))
    return "\n\n".join(f"{m.get('role')}: {text(m.get('content'))}" for m in messages)
