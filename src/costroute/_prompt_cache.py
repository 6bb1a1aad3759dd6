"""The engine's prompt-caching half: session-aware routing, ``prompt_cache: auto`` marks, and
remembering what each session's provider now caches.

The decisions are pure functions in :mod:`costroute.router._sessions`; this mixin only gathers
their inputs (the candidate pool, provider cache rules, the session's state) for
:class:`~costroute._engine.Engine`. The session table is the one piece of per-client state, updated
when an answer is booked (never by a cache hit: the provider did not see that request).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .pricing._sheet import Usage
from .providers._table import CacheRules, provider_rules
from .router._select import Candidate, Decision, RequestNeeds
from .router._sessions import (
    SessionState,
    SessionTable,
    cache_lifetime_s,
    cached_tokens,
    prefix_digest,
    session_choice,
)
from .router._tokens import count_message_tokens, default_counter

if TYPE_CHECKING:
    from ._catalog import Catalog, ResolvedPolicy
    from ._engine import Plan
    from .policies import CostrouteConfig

__all__ = ["PromptCaching", "session_of", "stable_prefix"]


def session_of(tags: Mapping[str, str], params: Mapping[str, Any]) -> str:
    """The request's session: its ``session`` tag, else OpenAI's ``prompt_cache_key`` ("" if none)."""
    session = tags.get("session") or params.get("prompt_cache_key")
    return str(session) if session else ""


def stable_prefix(messages: Sequence[Mapping[str, Any]], tools: Any) -> tuple[int, int]:
    """The prefix ``prompt_cache: auto`` may mark: (leading system messages, their tokens with the
    tools'). (0, 0) when there is neither."""
    count = 0
    while count < len(messages) and messages[count].get("role") in ("system", "developer"):
        count += 1
    if not count and not tools:
        return 0, 0
    return count, count_message_tokens(messages[:count], tools=tools or None, counter=default_counter())


def _marks(rules: CacheRules | None, model: str, prefix: tuple[int, int]) -> bool:
    """Whether a marked prefix of ``prefix`` tokens would be cached by ``model``'s provider."""
    if rules is None or rules.mode != "cache_control" or prefix[1] <= 0:
        return False
    least = rules.min_prefix_tokens(model)
    return least is not None and prefix[1] >= least


class PromptCaching:
    """Mixed into :class:`~costroute._engine.Engine` (which provides what is declared here)."""

    if TYPE_CHECKING:
        catalog: Catalog
        config: CostrouteConfig
        sessions: SessionTable

        def candidate(self, plan: Plan, model: str, tier: str | None = None) -> Candidate: ...

    def session_route(self, decision: Decision, policy: ResolvedPolicy, needs: RequestNeeds, tier: str,
                      messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any], session: str,
                      prefix: tuple[int, int]) -> Decision:
        """``decision`` re-ranked with what each candidate's provider caches of this session."""
        state = self.sessions.get(session)
        now = self.sessions.now()
        tools = params.get("tools")
        pool = self.catalog.tier_pool(policy, tier)
        auto = policy.config.prompt_cache == "auto"
        cache: dict[str, tuple[int, int]] = {}
        for c in pool:
            read = cached_tokens(state, c.name, messages, tools, now)
            rules = provider_rules(c.provider).cache
            write = prefix[1] if auto and not read and _marks(rules, c.name, prefix) else 0
            if read or write:
                cache[c.name] = (read, write)
        if state is None and not cache:
            return decision
        return session_choice(decision, pool=pool, needs=needs, tiers=self.config.tiers, state=state,
                              cache=cache, allow_tier_drop=policy.config.session.allow_tier_drop)

    def marked(self, plan: Plan, model: str) -> int:
        """The prompt tokens ``prompt_cache: auto`` marks for ``model`` (0: none marked)."""
        if plan.policy.config.prompt_cache != "auto":
            return 0
        rules = provider_rules(self.catalog.candidate(model).provider).cache
        return plan.cache_prefix[1] if _marks(rules, model, plan.cache_prefix) else 0

    def mark(self, plan: Plan, model: str, messages: list[dict[str, Any]],
             params: dict[str, Any]) -> list[dict[str, Any]]:
        """The messages (and, in place, the tools of ``params``) with the stable prefix marked
        ``cache_control: ephemeral`` for ``model``, when it caches marked prefixes of that size.
        One breakpoint: the last system block (which covers the tools before it), or the last tool."""
        if not self.marked(plan, model):
            return messages
        count = plan.cache_prefix[0]
        if count:
            last = messages[count - 1]
            content = last.get("content")
            blocks: list[Any] = ([{"type": "text", "text": content}] if isinstance(content, str)
                      else [dict(b) if isinstance(b, Mapping) else b for b in content or []])
            if blocks and isinstance(blocks[-1], dict):
                blocks[-1] = {**blocks[-1], "cache_control": {"type": "ephemeral"}}
                messages = [*messages[:count - 1], {**last, "content": blocks}, *messages[count:]]
            return messages
        tools = list(params.get("tools") or [])
        if tools and isinstance(tools[-1], Mapping):
            tools[-1] = {**tools[-1], "cache_control": {"type": "ephemeral"}}
            params["tools"] = tools
        return messages

    def remember(self, plan: Plan, candidate: Candidate, usage: Usage) -> None:
        """After an answer of ``candidate``: what its provider now caches of the session."""
        if not plan.session or plan.role != "answer" or not plan.policy.config.session.sticky:
            return
        rules = provider_rules(candidate.provider).cache
        lifetime = cache_lifetime_s(rules)
        count, tokens = 0, 0
        if rules is not None and lifetime is not None:
            if rules.mode == "cache_control":
                if self.marked(plan, candidate.name):
                    count, tokens = plan.cache_prefix
            else:
                least = rules.min_prefix_tokens(candidate.name)
                if least is not None and usage.prompt_tokens >= least:
                    count, tokens = len(plan.messages), usage.prompt_tokens
        tools = plan.params.get("tools")
        self.sessions.put(plan.session, SessionState(
            model=candidate.name, tier=plan.decision.tier, last_used=self.sessions.now(), prefix_tokens=tokens,
            prefix_messages=count, prefix_digest=prefix_digest(plan.messages, tools, count) if tokens else "",
            lifetime_s=lifetime or 0.0,
        ))
