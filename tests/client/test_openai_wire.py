"""Routing through litellm's real OpenAI code path, with the provider mocked at the HTTP boundary."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
import respx

from costroute import AsyncClient, AuthenticationError, Client
from costroute.providers import LiteLLMCompleter

from .conftest import EASY, HARD, OPENAI_BASE, SECRET, openai_reply, two_model_config


def _sent(route: respx.Route, i: int = -1) -> dict:
    return json.loads(route.calls[i].request.content)


@respx.mock
def test_easy_prompt_goes_to_the_cheap_model_and_is_priced(ledger) -> None:
    route = respx.post(f"{OPENAI_BASE}/chat/completions").mock(
        return_value=httpx.Response(200, json=openai_reply(prompt=14, completion=3)))
    client = Client(two_model_config(), ledger=ledger)

    resp = client.chat.completions.create(messages=EASY, temperature=0, tags={"user": "alice"})

    assert route.called and route.call_count == 1  # the mock really was hit, through litellm
    body = _sent(route)
    assert body["model"] == "gpt-4o-mini"
    assert body["temperature"] == 0
    assert body["max_tokens"] == 4096  # the policy's cap, injected because the caller gave none
    assert route.calls[0].request.headers["authorization"] == f"Bearer {SECRET}"
    assert resp.choices[0].message.content == "Paris."
    info = resp.costroute
    assert info.model == "openai/gpt-4o-mini" and info.tier == "economy" and not info.pinned
    assert 0.0 <= info.difficulty < 0.35 and info.label == "easy"
    assert info.cost_usd == (14 * Decimal("0.15") + 3 * Decimal("0.60")) / 1_000_000
    assert info.baseline_cost_usd == (14 * Decimal("2.50") + 3 * Decimal("10")) / 1_000_000
    assert info.saved_usd == info.baseline_cost_usd - info.cost_usd
    assert info.attempts == 1 and info.cache_hit is False
    [record] = ledger.records()
    assert record.request_id == info.request_id and record.status == "ok"
    # the ledger keeps integer micro-dollars (rounded half-even); the response carries the exact cost
    assert record.cost_usd == info.cost_usd.quantize(Decimal("0.000001")) and record.tags == {"user": "alice"}
    assert record.input_tokens == 14 and record.output_tokens == 3


@respx.mock
def test_hard_prompt_goes_to_a_premium_model(ledger) -> None:
    route = respx.post(f"{OPENAI_BASE}/chat/completions").mock(
        return_value=httpx.Response(200, json=openai_reply(model="gpt-4o")))
    resp = Client(two_model_config(), ledger=ledger).chat.completions.create(messages=HARD, max_tokens=500)
    assert _sent(route)["model"] == "gpt-4o"
    assert _sent(route)["max_tokens"] == 500  # the caller's cap is kept
    assert resp.costroute.tier == "premium" and resp.costroute.difficulty >= 0.65


@respx.mock
def test_cached_and_reasoning_tokens_follow_openai_conventions(ledger) -> None:
    config = two_model_config()
    config["models"][0]["price"]["cached_input_per_mtok"] = "0.075"
    respx.post(f"{OPENAI_BASE}/chat/completions").mock(return_value=httpx.Response(
        200, json=openai_reply(prompt=1000, completion=300, cached=600, reasoning=200)))
    info = Client(config, ledger=ledger).chat.completions.create(messages=EASY).costroute
    # OpenAI counts cached tokens inside prompt_tokens and reasoning inside completion_tokens.
    expected = (400 * Decimal("0.15") + 600 * Decimal("0.075") + 300 * Decimal("0.60")) / 1_000_000
    assert info.cost_usd == expected
    assert info.usage.cache_read_tokens == 600 and info.usage.input_tokens == 400


@respx.mock
def test_pinned_model_is_honoured_priced_and_recorded(ledger) -> None:
    route = respx.post(f"{OPENAI_BASE}/chat/completions").mock(
        return_value=httpx.Response(200, json=openai_reply(model="gpt-4o")))
    resp = Client(two_model_config(), ledger=ledger).chat.completions.create(
        messages=EASY, model="openai/gpt-4o")
    assert _sent(route)["model"] == "gpt-4o"
    assert resp.costroute.pinned and resp.costroute.model == "openai/gpt-4o"
    assert resp.costroute.cost_usd == resp.costroute.baseline_cost_usd > 0
    assert len(ledger.records()) == 1


@respx.mock
def test_route_explains_without_calling(ledger) -> None:
    route = respx.post(f"{OPENAI_BASE}/chat/completions")
    decision = Client(two_model_config(), ledger=ledger).route(HARD)
    assert not route.called and ledger.records() == []
    assert decision.model == "openai/gpt-4o" and decision.tier == "premium"
    chosen, *others = decision.candidates
    assert chosen.model == decision.model and chosen.est_cost_usd == decision.est_cost_usd
    rejected = {c.model: c.rejected for c in others if c.rejected}
    assert "quality 0.62 < 0.80" in rejected["openai/gpt-4o-mini"]
    assert decision.fallbacks == ["anthropic/claude-sonnet-4-5"]


@respx.mock
async def test_async_client_mirrors_the_sync_one(ledger) -> None:
    route = respx.post(f"{OPENAI_BASE}/chat/completions").mock(
        return_value=httpx.Response(200, json=openai_reply(prompt=20, completion=5)))
    # httpx, not the default aiohttp transport, so respx sees the call
    client = AsyncClient(two_model_config(), ledger=ledger, completer=LiteLLMCompleter(http="httpx"))
    resp = await client.chat.completions.create(messages=EASY, temperature=0)
    await client.aclose()
    assert route.call_count == 1  # respx saw the async call
    assert resp.costroute.model == "openai/gpt-4o-mini"
    assert resp.costroute.cost_usd == (20 * Decimal("0.15") + 5 * Decimal("0.60")) / 1_000_000
    assert [r.status for r in ledger.records()] == ["ok"]


@pytest.mark.parametrize("stream", [False, True])
@respx.mock
def test_secrets_never_reach_the_ledger_or_reprs(ledger, stream: bool) -> None:
    respx.post(f"{OPENAI_BASE}/chat/completions").mock(return_value=httpx.Response(401, json={
        "error": {"message": f"Incorrect API key provided: {SECRET}", "type": "invalid_request_error"}}))
    client = Client(two_model_config(models=["openai/gpt-4o-mini", "openai/gpt-4o"]), ledger=ledger)
    with pytest.raises(AuthenticationError) as caught:
        client.chat.completions.create(messages=EASY, stream=stream)
    assert caught.value.__cause__ is not None  # the provider's own error is kept
    assert SECRET not in str(caught.value) and SECRET not in repr(client) and SECRET not in repr(client.config)
    assert all(SECRET not in repr(r) for r in ledger.records())
