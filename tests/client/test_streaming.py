"""Streaming against a loopback fake server, through litellm's real streaming path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from costroute import AsyncClient, Client, ProviderError
from costroute.testing import FakeOpenAIServer

from .conftest import EASY

ANSWER = "The capital of France is Paris and it has been for a very long time indeed."


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
    ]}


def _text(chunks: list) -> str:
    return "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)


def test_stream_yields_chunks_and_costs_from_the_final_usage(server: FakeOpenAIServer, ledger) -> None:
    server.script("cheap-model", answer=ANSWER)
    with Client(_config(server), ledger=ledger) as client:
        stream = client.chat.completions.create(messages=EASY, stream=True)
        assert stream.costroute is None  # not known until the stream ends
        chunks = list(stream)
    assert _text(chunks).strip() == ANSWER
    assert server.calls[-1]["stream_options"] == {"include_usage": True}
    info = stream.costroute
    assert info is not None and not info.estimated and info.model == "openai/cheap-model"
    words = len(ANSWER.split())
    assert info.usage.output_tokens == words
    assert info.cost_usd == (info.usage.input_tokens * 1 + words * 2) / __import__("decimal").Decimal(10**6)
    [record] = ledger.records()
    assert record.status == "ok" and record.cost_usd == info.cost_usd


def test_stream_cut_off_is_recorded_as_estimated_never_free(server: FakeOpenAIServer, ledger) -> None:
    server.script("cheap-model", answer=ANSWER, cut_stream_after=2)
    with Client(_config(server), ledger=ledger) as client:
        stream = client.chat.completions.create(messages=EASY, stream=True)
        chunks = []
        with pytest.raises(ProviderError):  # the cut stream surfaces as a provider error
            for chunk in stream:
                chunks.append(chunk)
    [record] = ledger.records()
    assert chunks and record.estimated and record.status == "error"
    assert record.cost_usd > 0 and record.output_tokens > 0


def test_stream_without_provider_usage_is_estimated_and_not_cached(server: FakeOpenAIServer, ledger) -> None:
    # litellm makes up a usage chunk of its own count when the provider sends none: that count is
    # booked as an estimate (never $0, never "ok") and the answer is not cached.
    server.script("cheap-model", answer=ANSWER, stream_usage=False)
    with Client({**_config(server), "cache": {"enabled": True}}, ledger=ledger) as client:
        stream = client.chat.completions.create(messages=EASY, temperature=0, stream=True)
        chunks = list(stream)
        assert any(getattr(c, "usage", None) for c in chunks)  # the caller still gets a usage chunk
        again = client.chat.completions.create(messages=EASY, temperature=0, stream=True)
        list(again)
    info = stream.costroute
    assert info.estimated and info.cost_usd > 0 and info.usage.output_tokens > 0 and info.usage.input_tokens > 0
    assert not again.costroute.cache_hit and server.calls_for("cheap-model") == 2
    assert [r.status for r in ledger.records()] == ["estimated", "estimated"]
    assert ledger.records()[0].cost_usd == info.cost_usd


async def test_async_stream_without_provider_usage_is_estimated(server: FakeOpenAIServer, ledger) -> None:
    server.script("cheap-model", answer=ANSWER, stream_usage=False)
    client = AsyncClient(_config(server), ledger=ledger)
    stream = await client.chat.completions.create(messages=EASY, stream=True)
    assert [c async for c in stream]
    await client.aclose()
    assert stream.costroute.estimated
    [record] = ledger.records()
    assert record.status == "estimated" and record.estimated and record.cost_usd > 0


def test_stream_with_provider_usage_stays_exact(server: FakeOpenAIServer, ledger) -> None:
    server.script("cheap-model", answer=ANSWER)  # the fake sends usage when asked
    with Client({**_config(server), "cache": {"enabled": True}}, ledger=ledger) as client:
        list(client.chat.completions.create(messages=EASY, temperature=0, stream=True))
        replay = client.chat.completions.create(messages=EASY, temperature=0, stream=True)
        list(replay)
    assert replay.costroute.cache_hit and server.calls_for("cheap-model") == 1
    assert ledger.records()[0].status == "ok"


def test_abandoned_stream_is_accounted_for(server: FakeOpenAIServer, ledger) -> None:
    server.script("cheap-model", answer=ANSWER * 5)
    with Client(_config(server), ledger=ledger) as client:
        stream = client.chat.completions.create(messages=EASY, stream=True)
        next(stream), next(stream), next(stream)
        stream.close()
    [record] = ledger.records()
    assert record.status == "cancelled" and record.estimated and record.cost_usd > 0


def test_stream_retries_before_the_first_chunk(server: FakeOpenAIServer, ledger) -> None:
    server.script("cheap-model", answer=ANSWER, failures=[(503, 0.0)])
    with Client(_config(server), ledger=ledger, sleep=lambda s: None) as client:
        stream = client.chat.completions.create(messages=EASY, stream=True)
        assert _text(list(stream)).strip() == ANSWER
    assert stream.costroute.attempts == 2
    assert [r.status for r in ledger.records()] == ["error", "ok"]


async def test_async_stream(server: FakeOpenAIServer, ledger) -> None:
    server.script("cheap-model", answer=ANSWER)
    client = AsyncClient(_config(server), ledger=ledger)
    stream = await client.chat.completions.create(messages=EASY, stream=True)
    chunks = [chunk async for chunk in stream]
    await client.aclose()
    assert _text(chunks).strip() == ANSWER
    assert stream.costroute.model == "openai/cheap-model" and not stream.costroute.estimated


def _budgeted(server: FakeOpenAIServer, **extra: object) -> dict:
    return {**_config(server), "budgets": [{"name": "daily", "limit_usd": 1, "period": "day"}], **extra}


def _held(client) -> list:
    return [(s.reserved, s.spent > 0) for s in client.budgets.snapshot()]


@pytest.mark.parametrize("leave", ["close", "with", "drop"])
def test_a_stream_left_before_its_first_chunk_is_accounted_for(server: FakeOpenAIServer, ledger, leave) -> None:
    import gc

    from costroute.spend import MemoryBudgetStore

    server.script("cheap-model", answer=ANSWER)
    with Client(_budgeted(server), ledger=ledger, budget_store=MemoryBudgetStore()) as client:
        stream = client.chat.completions.create(messages=EASY, stream=True)
        if leave == "close":
            stream.close()
        elif leave == "with":
            with stream:
                pass
        else:
            del stream
            gc.collect()
        held = _held(client)
    assert [(r.status, r.estimated) for r in ledger.records()] == [("cancelled", True)]
    assert ledger.records()[0].cost_usd > 0 and held == [(0, True)]  # hold released, estimate spent


async def test_an_async_stream_closed_before_its_first_chunk_is_accounted_for(server: FakeOpenAIServer, ledger) -> None:
    from costroute.spend import MemoryBudgetStore

    server.script("cheap-model", answer=ANSWER)
    async with AsyncClient(_budgeted(server), ledger=ledger, budget_store=MemoryBudgetStore()) as client:
        stream = await client.chat.completions.create(messages=EASY, stream=True)
        await stream.aclose()
        held = _held(client)
    assert stream.costroute is not None and [r.status for r in ledger.records()] == ["cancelled"]
    assert held == [(0, True)]


def test_a_stream_left_after_its_usage_is_priced_from_it_and_cached(server: FakeOpenAIServer, ledger) -> None:
    server.script("cheap-model", answer=ANSWER)
    with Client({**_config(server), "cache": {}}, ledger=ledger) as client:
        with client.chat.completions.create(messages=EASY, stream=True, temperature=0) as stream:
            for chunk in stream:
                if getattr(chunk, "usage", None) is not None and chunk.usage.completion_tokens:
                    break  # everything arrived; the caller stops before the stream says so
        again = client.chat.completions.create(messages=EASY, temperature=0)
    first = ledger.records()[0]
    assert (first.status, first.estimated) == ("ok", False)
    assert again.costroute.cache_hit and again.choices[0].message.content.strip() == ANSWER  # as streamed
    assert server.calls_for("cheap-model") == 1


def test_an_estimate_counts_reasoning_refusals_and_tool_calls() -> None:
    from types import SimpleNamespace as NS

    from costroute._streams import StreamState

    call = NS(function=NS(name="get_weather", arguments='{"city": "Paris"}'))
    delta = NS(content=None, reasoning_content="let me think", refusal=None, tool_calls=[call])
    state = StreamState()
    state.add(NS(usage=None, choices=[NS(delta=delta, finish_reason=None)]))
    assert state.text == 'let me thinkget_weather{"city": "Paris"}'
