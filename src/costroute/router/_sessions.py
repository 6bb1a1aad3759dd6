"""Provider prompt caching in routing: what a session has cached where, and the choice it changes.

A request belongs to a session when it carries a ``session`` tag (or OpenAI's ``prompt_cache_key``,
a conversation id). After each answer the session remembers the model that answered, the routing
tier it was served at, and the prefix of the prompt the provider will now hold in its cache
(:class:`SessionState`). The next request of the session is then priced with that prefix at the
model's cached-input price, for as long as the provider keeps it (:func:`cached_tokens`), and
:func:`session_choice` re-ranks the routing decision:

* the session's model is kept unless another model is cheaper *after* losing the cache, or the
  required tier rose beyond what the session's model can serve;
* the tier never drops mid-session unless the policy allows it (``session.allow_tier_drop``).

Everything but :class:`SessionTable` (a bounded, thread-safe map with a clock) is pure.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from ..pricing._cost import cost_of
from ..pricing._sheet import PriceSheet, Usage
from ..providers._table import CacheRules
from ._select import Candidate, Decision, RankedCandidate, RequestNeeds

__all__ = [
    "DEFAULT_LIFETIME_S",
    "SessionChoice",
    "SessionState",
    "SessionTable",
    "cache_lifetime_s",
    "cached_estimate",
    "cached_tokens",
    "prefix_digest",
    "session_choice",
]

#: The cache lifetime assumed where a provider only says "minutes" (OpenAI: 5-10 minutes idle):
#: the short end, so no cache hit is priced that the provider may already have dropped.
DEFAULT_LIFETIME_S = 300.0


@dataclass(frozen=True, slots=True)
class SessionState:
    """What one session left behind: the model that last answered, the routing tier it was served
    at, and the prompt prefix that model's provider now caches (``prefix_tokens`` tokens: the first
    ``prefix_messages`` messages and the tools, whose digest is ``prefix_digest``), until
    ``last_used + lifetime_s``."""

    model: str
    tier: str
    last_used: float
    prefix_tokens: int = 0
    prefix_messages: int = 0
    prefix_digest: str = ""
    lifetime_s: float = DEFAULT_LIFETIME_S


@dataclass(frozen=True, slots=True)
class SessionChoice:
    """How a session changed (or kept) a routing choice, for ``client.route()`` and RouteInfo."""

    session_model: str
    kept: bool
    cached_tokens: int
    cost_usd: Decimal | None  # the chosen model's estimate, with what it has cached
    alternative: str | None  # the cheapest other eligible model
    alternative_cost_usd: Decimal | None  # its estimate (no cache of this session there)
    note: str


class SessionTable:
    """Per-client session state: at most ``size`` sessions, least recently used dropped first."""

    def __init__(self, size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._clock = clock
        self._items: OrderedDict[str, SessionState] = OrderedDict()
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._clock()

    def get(self, session: str) -> SessionState | None:
        with self._lock:
            state = self._items.get(session)
            if state is not None:
                self._items.move_to_end(session)
            return state

    def put(self, session: str, state: SessionState) -> None:
        with self._lock:
            self._items[session] = state
            self._items.move_to_end(session)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def cache_lifetime_s(rules: CacheRules | None) -> float | None:
    """How long a provider keeps a prefix cached (``None``: it does not cache)."""
    if rules is None or rules.mode == "none":
        return None
    return float(rules.lifetimes_s[0]) if rules.lifetimes_s else DEFAULT_LIFETIME_S


def prefix_digest(messages: Sequence[Mapping[str, Any]], tools: Any, count: int) -> str:
    """A digest of the first ``count`` messages and the tools: what a provider's cache matches."""
    blob = json.dumps([list(messages[:count]), tools], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def cached_tokens(state: SessionState | None, model: str, messages: Sequence[Mapping[str, Any]], tools: Any,
                  now: float) -> int:
    """The prompt tokens ``model``'s provider will serve from its cache for this request: the
    session's prefix, if the session last went to ``model``, within the cache's lifetime, and the
    request starts with the same messages and tools."""
    if state is None or state.model != model or state.prefix_tokens <= 0:
        return 0
    if now - state.last_used > state.lifetime_s or state.prefix_messages > len(messages):
        return 0
    if prefix_digest(messages, tools, state.prefix_messages) != state.prefix_digest:
        return 0
    return state.prefix_tokens


def cached_estimate(sheet: PriceSheet, needs: RequestNeeds, read: int, write: int = 0) -> Decimal:
    """The request's estimated cost with ``read`` prompt tokens read from the provider's cache and
    ``write`` written to it (the rest of the prompt at the input price)."""
    read = min(read, needs.input_tokens)
    write = min(write, needs.input_tokens - read)
    usage = Usage(input_tokens=needs.input_tokens - read - write, output_tokens=needs.output_tokens,
                  cache_read_tokens=read, cache_write_tokens=write)
    return cost_of(sheet, usage)


def session_choice(
    decision: Decision,
    *,
    pool: Sequence[Candidate],
    needs: RequestNeeds,
    tiers: Mapping[str, float],
    state: SessionState | None,
    cache: Mapping[str, tuple[int, int]],
    allow_tier_drop: bool = False,
) -> Decision:
    """Re-rank ``decision`` for a session. ``cache`` maps a model to the (read, write) prompt
    tokens the request would have at its provider's cache; models not in it are priced as routing
    priced them. Pure."""
    floor_tier = decision.tier
    if state is not None and not allow_tier_drop and tiers.get(state.tier, -1.0) > tiers[decision.tier]:
        floor_tier = state.tier  # the tier never drops mid-session
    floor = tiers[floor_tier]
    by_name = {c.name: c for c in pool}
    ranked: list[RankedCandidate] = []
    for r in decision.candidates:
        reason = r.rejected
        if reason is None and r.quality < floor:
            reason = f"quality {r.quality:.2f} < {floor:.2f} of the session's tier {floor_tier}"
        cost = r.est_cost_usd
        sheet = by_name[r.model].sheet if r.model in by_name else None
        if r.model in cache and sheet is not None:
            cost = cached_estimate(sheet, needs, *cache[r.model])
        ranked.append(RankedCandidate(r.model, r.quality, cost, reason))
    eligible = sorted((r for r in ranked if r.eligible and r.est_cost_usd is not None),
                      key=lambda r: (r.est_cost_usd, -r.quality, r.model))
    if not eligible:  # nothing can serve at the session's tier: routing's own choice stands
        if floor_tier == decision.tier:
            return decision
        return session_choice(decision, pool=pool, needs=needs, tiers=tiers, state=state, cache=cache,
                              allow_tier_drop=True)
    chosen = eligible[0]
    choice = _explain(chosen, eligible, state, cache, floor_tier, decision)
    ranked.sort(key=lambda r: (
        r.model != chosen.model, not r.eligible,
        r.est_cost_usd if r.est_cost_usd is not None else Decimal("Infinity"), r.model,
    ))
    served = by_name.get(chosen.model)
    return replace(
        decision, model=chosen.model, tier=floor_tier, candidates=tuple(ranked), est_cost_usd=chosen.est_cost_usd,
        escalated=floor_tier != decision.required_tier,
        service_tier=served.service_tier if served is not None else decision.service_tier, session=choice,
    )


def _explain(chosen: RankedCandidate, eligible: Sequence[RankedCandidate], state: SessionState | None,
             cache: Mapping[str, tuple[int, int]], floor_tier: str, decision: Decision) -> SessionChoice:
    other = next((r for r in eligible if r.model != chosen.model), None)
    read = cache.get(chosen.model, (0, 0))[0]
    alt, alt_cost = (other.model, other.est_cost_usd) if other is not None else (None, None)
    versus = f" vs ${alt_cost} for {alt} (no cache there)" if other is not None else ""
    if state is None:
        note = f"session starts on {chosen.model} (${chosen.est_cost_usd}{versus})"
        return SessionChoice("", False, read, chosen.est_cost_usd, alt, alt_cost, note)
    if chosen.model == state.model:
        why = "kept for session cache" if read else "kept for session"
        note = f"{why}: {chosen.model} at ${chosen.est_cost_usd} with {read} cached prompt tokens{versus}"
        if floor_tier != decision.tier:
            note += f"; tier {floor_tier} kept (no tier drop mid-session)"
        return SessionChoice(state.model, True, read, chosen.est_cost_usd, alt, alt_cost, note)
    lost = next((r for r in eligible if r.model == state.model), None)
    if lost is None:
        reason = f"{state.model} cannot serve tier {floor_tier} or this request"
    else:
        reason = (f"{chosen.model} at ${chosen.est_cost_usd} is cheaper than {state.model} at "
                  f"${lost.est_cost_usd} even with its cache")
    return SessionChoice(state.model, False, read, chosen.est_cost_usd, state.model,
                         lost.est_cost_usd if lost is not None else None,
                         f"moved from {state.model} to {chosen.model}: {reason}")
