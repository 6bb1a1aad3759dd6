"""Anthropic's wire format through litellm's real Anthropic code path, mocked with respx."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import respx

from costroute import AsyncClient, Client
from costroute.providers import LiteLLMCompleter

from .conftest import ANTHROPIC_BASE, EASY, SECRET, anthropic_reply, two_model_config

MODEL = "anthropic/claude-sonnet-4-5"


def _expected(inp: int, out: int, read: int, write: int) -> Decimal:
    return (inp * Decimal(3) + out * Decimal(15) + read * Decimal("0.30") + write * Decimal("3.75")) / 1_000_000


@respx.mock
def test_anthropic_call_and_cache_token_pricing(ledger) -> None:
    route = respx.post(f"{ANTHROPIC_BASE}/v1/messages").mock(return_value=httpx.Response(
        200, json=anthropic_reply(input_tokens=12, output_tokens=4, cache_read=1000, cache_write=200)))
    resp = Client(two_model_config(), ledger=ledger).chat.completions.create(messages=EASY, model=MODEL)
    assert route.call_count == 1
    request = route.calls[0].request
    assert request.headers["x-api-key"] == SECRET
    body = json.loads(request.content)
    assert body["model"] == "claude-sonnet-4-5" and body["messages"][0]["role"] == "user"
    assert resp.choices[0].message.content == "Paris."
    info = resp.costroute
    # Anthropic reports cache reads and writes apart from input_tokens.
    assert (info.usage.input_tokens, info.usage.cache_read_tokens, info.usage.cache_write_tokens) == (12, 1000, 200)
    assert info.cost_usd == _expected(12, 4, 1000, 200)
    [record] = ledger.records()
    assert record.provider == "anthropic" and record.cost_usd == info.cost_usd


@respx.mock
async def test_anthropic_async(ledger) -> None:
    route = respx.post(f"{ANTHROPIC_BASE}/v1/messages").mock(
        return_value=httpx.Response(200, json=anthropic_reply(input_tokens=30, output_tokens=7)))
    # httpx, not the default aiohttp transport, so respx sees the call
    client = AsyncClient(two_model_config(), ledger=ledger, completer=LiteLLMCompleter(http="httpx"))
    resp = await client.chat.completions.create(messages=EASY, model=MODEL)
    await client.aclose()
    assert route.call_count == 1
    assert resp.costroute.cost_usd == _expected(30, 7, 0, 0)
