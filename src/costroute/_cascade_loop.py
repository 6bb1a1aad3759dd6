"""A cascade request, as more steps of the same request loop.

The policy's :class:`~costroute.cascade.Cascade` decides which calls to make (a cheap step's answer,
the answers its verifiers compare it with, a judge's grade, the final model); this generator makes
them with the loop's own effects, so the sync and async drivers (and any other) run cascades too:

    start the run → ledger ready → reserve the worst case of every call it may make, per model
    → for each batch of calls: that model's attempts (retries as for any request; no fallback:
    a call that fails is the cascade's to judge) → settle per model → book every call with its
    step, role and verdict → store → the accepted answer, its ``RouteInfo`` saying what was tried.

A streamed cascade verifies before it answers: the accepted answer is replayed as a stream.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from ._caching import CacheCall, store_args
from ._engine import Engine, Plan
from ._errors import BudgetExceeded, ProviderError
from ._loop import Ready, Record, Release, Reserve, Steps, Store, _settle, _Slot, _tries
from ._retry import AttemptRun
from ._streams import ReplayStream
from ._types import RouteInfo
from .cache import replay_response
from .cascade import Answer, Call, CascadeRun
from .pricing._sheet import Usage
from .providers import chunk_from_dict
from .spend import Reservation, SpendRecord
from .spend._money import round_micros

__all__ = ["cascade"]


@dataclass(slots=True)
class _Tally:
    """What the cascade's calls cost: ``booked`` per model as the records book it (micro-dollars,
    what the holds settle, so budget counters equal the ledger), ``exact`` in all."""

    booked: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    exact: Decimal = Decimal(0)

    def add(self, model: str, cost: Decimal) -> None:
        self.booked[model] += round_micros(cost)
        self.exact += cost


@dataclass(slots=True)
class _Answered:
    response: Any
    info: RouteInfo
    record: SpendRecord


def cascade(engine: Engine, plan: Plan, cached: CacheCall | None) -> Steps[Any]:
    """A request under a ``strategy: cascade`` policy, from its plan to its answer."""
    assert plan.policy.cascade is not None
    run = plan.policy.cascade.start(plan.messages, difficulty=plan.decision.difficulty, stream=plan.stream)
    yield Ready()  # nothing is sent that could not be recorded
    holds: dict[str, Reservation] = {}
    spent = _Tally()
    answered: dict[str, _Answered] = {}
    errors: dict[str, ProviderError] = {}
    count = 0
    try:
        if engine.budgets is not None:
            for model, amount in engine.cascade_worst_cases(plan, run.worst_case()).items():
                holds[model] = yield Reserve(engine.reservation_args(plan, model, amount=amount))
        while calls := run.next_calls():
            for call in calls:
                count = yield from _make(engine, plan, run, call, count, spent, answered, errors)
    except BaseException:
        for hold in holds.values():
            yield Release(hold)
        raise
    refused: BudgetExceeded | None = None
    for model, hold in holds.items():
        refused = (yield from _settle(engine, plan, model, hold, spent.booked[model])) or refused
    outcome = run.outcome
    verdicts = {c.key: c.verdict for c in outcome.calls}
    accepted = answered.get(outcome.answer_key or "")
    info = _info(plan, outcome.explain(), accepted, count, spent.exact)
    for key, done in answered.items():
        yield Record(replace(done.record, verdict=verdicts.get(key, "")), info if done is accepted else None)
    if accepted is None:  # the final call failed: its error is the request's
        raise errors.get(outcome.answer_key or "") or next(iter(errors.values()), None) or ProviderError(
            f"the cascade ended without an answer: {outcome.error or outcome.reason}")
    response = accepted.response
    object.__setattr__(response, "costroute", info)
    if cached is not None and cached.storable:
        yield Store(cached, store_args(engine, cached, info, response=response))
    if refused is not None:
        raise refused
    if plan.stream:
        return ReplayStream([chunk_from_dict(c) for c in replay_response(response)], info)
    return response


def _make(engine: Engine, plan: Plan, run: CascadeRun, call: Call, count: int, spent: _Tally,
          answered: dict[str, _Answered], errors: dict[str, ProviderError]) -> Steps[int]:
    """One call of the cascade, with that model's retries; its result handed to the run. Returns
    the request's attempt count after it."""
    sub = engine.subplan(plan, call)
    attempts = AttemptRun((call.model,), plan.policy.config.retry, lambda m, tried: [], start=count)
    slot = _Slot(tier=engine.tier_for(sub, call.model), shared=True)  # the cascade's holds cover it
    attempts.next_model()
    try:
        response, started = yield from _tries(engine, sub, attempts, call.model, slot)
    except ProviderError as exc:
        spent.add(call.model, slot.billed)
        errors[call.key] = exc
        run.fail(call.key, f"{type(exc).__name__}: {exc}", cost_usd=slot.billed)
        return attempts.count
    info, record = engine.finish(sub, call.model, attempts.count, getattr(response, "usage", None), started,
                                 response=response, tier=slot.tier)
    spent.add(call.model, slot.billed)
    spent.add(call.model, info.cost_usd)
    answered[call.key] = _Answered(response, info, record)
    text, logprobs = _reply(response)
    run.receive(call.key, Answer(text, logprobs, info.cost_usd))
    return attempts.count


def _reply(response: Any) -> tuple[str, tuple[float, ...] | None]:
    """The first choice's text and its tokens' log probabilities (where the provider sent them)."""
    choices = getattr(response, "choices", None) or []
    if not choices:
        return "", None
    message = getattr(choices[0], "message", None)
    text = getattr(message, "content", None) or ""
    content = getattr(getattr(choices[0], "logprobs", None), "content", None)
    logprobs = tuple(float(t.logprob) for t in content) if content else None
    return str(text), logprobs


def _info(plan: Plan, trace: dict[str, Any], accepted: _Answered | None, attempts: int, cost: Decimal) -> RouteInfo:
    """What the request tells its caller: the accepted answer's model and usage, the cascade's
    whole cost, its saving against the baseline answering alone, and the trace."""
    d = plan.decision
    latency = (time.perf_counter() - plan.started) * 1000
    if accepted is None:
        return RouteInfo(request_id=plan.request_id, policy=plan.policy.name, difficulty=d.difficulty, label=d.label,
                         tier=d.tier, model="", cost_usd=cost, baseline_cost_usd=Decimal(0), cache_hit=False,
                         attempts=attempts, pinned=False, latency_ms=latency, usage=Usage(), decision=d,
                         cascade=trace)
    base = accepted.info
    return replace(base, cost_usd=cost, saved_usd=base.baseline_cost_usd - cost, attempts=attempts, cascade=trace,
                   latency_ms=latency)
