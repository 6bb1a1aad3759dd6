"""Provider prompt caching through the client and the loopback fake (``prompt_cache=True``): session
stickiness, cache-aware estimates, ``prompt_cache: auto`` marks on Anthropic's wire, and what is
reserved and booked."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from costroute import AsyncClient, Client
from costroute.router._sessions import SessionTable
from costroute.spend import MemoryBudgetStore
from costroute.spend._money import round_micros
from costroute.testing import FakeOpenAIServer

from .conftest import EASY, HARD

D = Decimal
SYSTEM = {"role": "system", "content": "You are a careful agent who follows the house rules. " * 200}


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(prompt_cache=True) as fake:
        yield fake


def _config(server: FakeOpenAIServer, **policy: Any) -> dict[str, Any]:
    return {
        "models": [
            {"name": "openai/gpt-4.1-nano", "api_base": server.base_url, "api_key": "sk-loop", "quality": 0.62,
             "price": {"input_per_mtok": "0.10", "output_per_mtok": "0.40", "cached_input_per_mtok": "0.025"}},
            {"name": "anthropic/claude-sonnet-4-5", "api_base": server.base_url.removesuffix("/v1"),
             "api_key": "sk-loop", "quality": 0.92,
             "price": {"input_per_mtok": "3", "output_per_mtok": "15", "cached_input_per_mtok": "0.30",
                       "cache_write_per_mtok": "3.75"}},
        ],
        "policies": {"default": {"max_output_tokens": 50, **policy}},
    }


def _ask(client: Client, messages: list[dict[str, Any]], session: str | None = "s1", **kw: Any) -> Any:
    return client.chat.completions.create(messages=messages, tags={"session": session} if session else None, **kw)


def test_auto_marks_the_system_prompt_and_books_the_write_then_the_reads(server, ledger) -> None:
    sonnet = "anthropic/claude-sonnet-4-5"
    with Client(_config(server, prompt_cache="auto"), ledger=ledger) as client:
        first = _ask(client, [SYSTEM, {"role": "user", "content": "q1"}], model=sonnet)
        second = _ask(client, [SYSTEM, {"role": "user", "content": "q2"}], model=sonnet)
    body = server.calls[0]
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    written = first.costroute.usage.cache_write_tokens
    assert written > 1024 and first.costroute.usage.cache_read_tokens == 0
    assert second.costroute.usage.cache_read_tokens == written and second.costroute.usage.cache_write_tokens == 0
    u1, u2 = first.costroute.usage, second.costroute.usage
    assert first.costroute.cost_usd == (u1.input_tokens * 3 + written * D("3.75") + u1.output_tokens * 15) / 10**6
    assert second.costroute.cost_usd == (u2.input_tokens * 3 + written * D("0.30") + u2.output_tokens * 15) / 10**6
    r1, r2 = ledger.records()
    assert (r1.cache_write_tokens, r1.cache_read_tokens) == (written, 0)
    assert (r2.cache_write_tokens, r2.cache_read_tokens) == (0, written)
    assert r2.cost_usd == round_micros(second.costroute.cost_usd)  # the ledger books micro-dollars


def test_no_marks_when_off_below_the_minimum_or_on_openai(server, ledger) -> None:
    sonnet = "anthropic/claude-sonnet-4-5"
    short = {"role": "system", "content": "Be brief."}
    with Client(_config(server, prompt_cache="auto"), ledger=ledger) as client:
        _ask(client, [short, {"role": "user", "content": "q"}], model=sonnet)
        _ask(client, [SYSTEM, {"role": "user", "content": "q"}], model="openai/gpt-4.1-nano")
    with Client(_config(server), ledger=ledger) as client:
        off = _ask(client, [SYSTEM, {"role": "user", "content": "q"}], model=sonnet)
    assert server.calls[0]["system"] == [{"type": "text", "text": "Be brief."}]
    assert server.calls[1]["messages"][0] == SYSTEM  # OpenAI caches by itself: sent as given
    assert "cache_control" not in str(server.calls[2])
    assert off.costroute.usage.cache_write_tokens == 0


def test_the_reservation_covers_the_cache_write(server, ledger) -> None:
    sonnet = "anthropic/claude-sonnet-4-5"
    config = _config(server, prompt_cache="auto")
    config["policies"]["plain"] = {"max_output_tokens": 50}
    config = {**config, "budgets": [{"name": "b", "limit_usd": "5", "period": "day"}]}
    with Client(config, ledger=ledger, budget_store=MemoryBudgetStore()) as client:
        engine = client._engine
        plan = engine.plan({"messages": [SYSTEM, {"role": "user", "content": "q"}], "model": sonnet})
        marked = engine.marked(plan, sonnet)
        assert marked == plan.cache_prefix[1] > 1024
        prompt = engine.prompt_bound(plan, sonnet)
        assert engine.worst_case(plan, sonnet) == ((prompt - marked) * 3 + marked * D("3.75") + 50 * 15) / D(10**6)
        unmarked = engine.plan({"messages": [SYSTEM, {"role": "user", "content": "q"}], "model": sonnet,
                                "policy": "plain"})
        assert engine.worst_case(unmarked, sonnet) == (prompt * 3 + 50 * 15) / D(10**6)


def test_session_keeps_its_tier_and_model_and_route_explains(server, ledger) -> None:
    with Client(_config(server), ledger=ledger) as client:
        assert client.route(EASY).model == "openai/gpt-4.1-nano"
        hard = _ask(client, HARD)
        assert hard.costroute.model == "anthropic/claude-sonnet-4-5"
        decision = client.route(EASY, tags={"session": "s1"})
        assert decision.model == "anthropic/claude-sonnet-4-5" and decision.tier == hard.costroute.tier
        assert decision.session is not None and "no tier drop mid-session" in decision.session.note
        easy = _ask(client, EASY)
        assert easy.costroute.model == "anthropic/claude-sonnet-4-5"
        assert easy.costroute.decision.session.kept
        assert _ask(client, EASY, session="other").costroute.model == "openai/gpt-4.1-nano"
    with Client(_config(server, session={"allow_tier_drop": True}), ledger=ledger) as client:
        _ask(client, HARD)
        assert _ask(client, EASY).costroute.model == "openai/gpt-4.1-nano"
    with Client(_config(server, session={"sticky": False}), ledger=ledger) as client:
        _ask(client, HARD)
        dropped = _ask(client, EASY)
        assert dropped.costroute.model == "openai/gpt-4.1-nano" and dropped.costroute.decision.session is None


def test_estimates_count_what_the_provider_caches_until_it_expires(server, ledger) -> None:
    now = [1000.0]
    easy_only = {"economy": 0.0, "standard": 0.99, "premium": 0.999}  # a long prompt is not "hard" here
    with Client(_config(server, thresholds=easy_only), ledger=ledger) as client:
        client._engine.sessions = SessionTable(clock=lambda: now[0])
        turn = [SYSTEM, {"role": "user", "content": "q1"}]
        first = _ask(client, turn, model=None)
        assert first.costroute.model == "openai/gpt-4.1-nano"
        grown = [*turn, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"}]
        decision = client.route(grown, tags={"session": "s1"})
        assert decision.session is not None and decision.session.kept
        assert decision.session.cached_tokens == first.costroute.usage.prompt_tokens
        assert "kept for session cache" in decision.session.note
        second = _ask(client, grown)
        assert second.costroute.usage.cache_read_tokens > 1024  # the fake's provider cache served it
        now[0] += 301  # past OpenAI's (short-end) cache lifetime
        assert client.route(grown, tags={"session": "s1"}).session.cached_tokens == 0
        # an uncached request is priced as routing prices it
        assert client.route(grown).est_cost_usd == client.route(grown, tags={"session": "s1"}).est_cost_usd


def test_prompt_cache_key_is_a_session_too(server, ledger) -> None:
    with Client(_config(server), ledger=ledger) as client:
        _ask(client, HARD, session=None, prompt_cache_key="conv-9")
        assert client.route(EASY, prompt_cache_key="conv-9").model == "anthropic/claude-sonnet-4-5"
        assert client.route(EASY, prompt_cache_key="conv-10").model == "openai/gpt-4.1-nano"


async def test_async_client_marks_and_remembers(server, ledger) -> None:
    sonnet = "anthropic/claude-sonnet-4-5"
    client = AsyncClient(_config(server, prompt_cache="auto"), ledger=ledger)
    try:
        first = await client.chat.completions.create(messages=[SYSTEM, {"role": "user", "content": "q1"}],
                                                     model=sonnet, tags={"session": "a"})
        second = await client.chat.completions.create(messages=[SYSTEM, {"role": "user", "content": "q2"}],
                                                      tags={"session": "a"})
    finally:
        await client.aclose()
    assert first.costroute.usage.cache_write_tokens > 1024
    assert second.costroute.model == sonnet
    assert second.costroute.usage.cache_read_tokens == first.costroute.usage.cache_write_tokens
