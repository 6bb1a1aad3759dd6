"""What a server (or any wrapper) asks a client: its policies and models, a stream's facts before it
ends, and whether its backends are reachable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from costroute import AsyncClient, Client
from costroute.spend import MemoryLedger
from costroute.testing import FakeOpenAIServer

from .conftest import EASY


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def _config(server: FakeOpenAIServer) -> dict:
    return {"models": [
        {"name": "openai/cheap-model", "api_base": server.base_url, "api_key": "sk-loop", "quality": 0.6,
         "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
        {"name": "openai/strong-model", "api_base": server.base_url, "api_key": "sk-loop", "quality": 0.9,
         "price": {"input_per_mtok": 10, "output_per_mtok": 20}},
    ], "policies": {"default": {}, "b-policy": {}, "a-policy": {}}}


def test_policy_and_model_names_and_resolving_a_spelling(server: FakeOpenAIServer) -> None:
    with Client(_config(server), ledger=MemoryLedger()) as client:
        assert client.policy_names == ["a-policy", "b-policy", "default"]
        assert client.model_names == ["openai/cheap-model", "openai/strong-model"]
        assert client.resolve_model("openai/strong-model") == "openai/strong-model"
        assert client.resolve_model("strong-model") == "openai/strong-model"
        assert client.resolve_model("gpt-unknown") is None


def test_a_stream_knows_its_request_model_and_tier_before_it_ends(server: FakeOpenAIServer) -> None:
    ledger = MemoryLedger()
    with Client(_config(server), ledger=ledger) as client:
        stream = client.chat.completions.create(messages=EASY, stream=True)
        assert stream.costroute is None
        assert (stream.model, stream.tier) == ("openai/cheap-model", "economy")
        list(stream)
    assert stream.request_id == ledger.records()[0].request_id == stream.costroute.request_id


async def test_async_stream_facts_and_readiness(server: FakeOpenAIServer) -> None:
    ledger = MemoryLedger()
    async with AsyncClient(_config(server) | {"cache": {"enabled": False}}, ledger=ledger) as client:
        stream = await client.chat.completions.create(messages=EASY, stream=True, model="openai/strong-model")
        assert (stream.model, stream.tier) == ("openai/strong-model", "premium")
        await stream.aclose()
        assert stream.request_id == ledger.records()[0].request_id
        assert await client.ready() == {"ledger": "ok", "budget_store": "not configured", "cache": "not configured"}
