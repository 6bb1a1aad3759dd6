"""OpenTelemetry spans from the client, read back with the SDK's in-memory exporter."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal

import pytest

from costroute import AsyncClient, Client
from costroute.testing import FakeOpenAIServer

from .conftest import EASY

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

KEY = "sk-otel-sentinel-777"
ANSWER = "The capital of France is Paris, as it has been for centuries."


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture()
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def _config(server: FakeOpenAIServer, **extra: object) -> dict:
    return {
        "models": [
            {"name": "openai/cheap", "api_base": server.base_url, "api_key": KEY, "quality": 0.6,
             "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
            {"name": "openai/strong", "api_base": server.base_url, "api_key": KEY, "quality": 0.9,
             "price": {"input_per_mtok": 10, "output_per_mtok": 20}},
        ],
        "policies": {"default": {"baseline": "openai/strong"}},
        **extra,
    }


def _finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return list(exporter.get_finished_spans())


def _check_request_span(span: ReadableSpan, info, record) -> None:
    a = span.attributes or {}
    assert span.name == f"chat {info.model}" and span.kind is SpanKind.CLIENT
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == info.model and a["gen_ai.response.model"] == info.model
    assert a["gen_ai.usage.input_tokens"] == info.usage.input_tokens + info.usage.cache_read_tokens
    assert a["gen_ai.usage.output_tokens"] == info.usage.output_tokens > 0
    assert Decimal(str(a["costroute.cost_usd"])) == info.cost_usd
    assert a["costroute.tier"] == info.tier and a["costroute.policy"] == info.policy == "default"
    assert a["costroute.difficulty"] == pytest.approx(info.difficulty)
    assert a["costroute.cache_hit"] is info.cache_hit
    assert a["costroute.request_id"] == info.request_id == record.request_id
    assert span.status.status_code is not StatusCode.ERROR
    assert span.end_time is not None and span.start_time is not None and span.end_time >= span.start_time
    assert KEY not in repr(dict(a)) and "France" not in repr(dict(a))  # no key, no prompt


def test_each_request_is_a_span_and_the_users_hook_still_runs(server, ledger, spans) -> None:
    provider, exporter = spans
    server.script("cheap", answer=ANSWER)
    seen = []
    with Client(_config(server), ledger=ledger, tracer_provider=provider,
                on_record=lambda info, record: seen.append((info, record))) as client:
        resp = client.chat.completions.create(messages=EASY, tags={"team": "search"})
    [span] = _finished(exporter)
    [(info, record)] = seen
    assert info is resp.costroute and record == ledger.records()[0]
    _check_request_span(span, resp.costroute, record)
    assert span.attributes["costroute.tag.team"] == "search"
    assert span.attributes["gen_ai.usage.input_tokens"] == record.input_tokens
    assert span.instrumentation_scope.name == "costroute"


def test_a_failing_user_hook_does_not_stop_the_span(server, ledger, spans) -> None:
    provider, exporter = spans

    def broken(info, record):
        raise RuntimeError("user bug")

    with Client(_config(server), ledger=ledger, tracer_provider=provider, on_record=broken) as client:
        client.chat.completions.create(messages=EASY)
    assert len(_finished(exporter)) == 1 and len(ledger.records()) == 1


def test_a_retried_failure_is_an_error_span_then_the_answer_a_request_span(server, ledger, spans) -> None:
    provider, exporter = spans
    server.script("cheap", answer=ANSWER, failures=[500])
    with Client(_config(server, policies={"default": {"baseline": "openai/strong",
                                                      "retry": {"attempts_per_model": 2}}}),
                ledger=ledger, tracer_provider=provider, sleep=lambda s: None) as client:
        resp = client.chat.completions.create(messages=EASY)
    failed, answered = _finished(exporter)
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"].endswith("Error") and "gen_ai.response.model" not in failed.attributes
    assert failed.attributes["costroute.request_id"] == resp.costroute.request_id
    _check_request_span(answered, resp.costroute, ledger.records()[-1])
    assert answered.attributes["costroute.attempts"] == 2


def test_a_cache_hit_is_a_span_marked_as_such(server, ledger, spans) -> None:
    provider, exporter = spans
    server.script("cheap", answer=ANSWER)
    with Client(_config(server), ledger=ledger, tracer_provider=provider) as client:
        client.chat.completions.create(messages=EASY, temperature=0)
        again = client.chat.completions.create(messages=EASY, temperature=0)
    first, hit = _finished(exporter)
    assert again.costroute.cache_hit and server.calls_for("cheap") == 1
    assert first.attributes["costroute.cache_hit"] is False
    _check_request_span(hit, again.costroute, ledger.records()[-1])
    assert hit.attributes["costroute.cost_usd"] == 0.0 and hit.attributes["costroute.saved_usd"] > 0


def test_a_stream_is_one_span_once_it_ends(server, ledger, spans) -> None:
    provider, exporter = spans
    server.script("cheap", answer=ANSWER)
    with Client(_config(server), ledger=ledger, tracer_provider=provider) as client:
        stream = client.chat.completions.create(messages=EASY, stream=True)
        first = next(iter(stream))
        assert first is not None and _finished(exporter) == []  # not booked yet
        list(stream)
    [span] = _finished(exporter)
    _check_request_span(span, stream.costroute, ledger.records()[0])


async def test_async_request_and_stream_are_spans(server, ledger, spans) -> None:
    provider, exporter = spans
    server.script("cheap", answer=ANSWER)
    client = AsyncClient(_config(server), ledger=ledger, tracer_provider=provider)
    try:
        resp = await client.chat.completions.create(messages=EASY)
        stream = await client.chat.completions.create(messages=EASY, stream=True)
        chunks = [c async for c in stream]
    finally:
        await client.aclose()
    assert chunks
    plain, streamed = _finished(exporter)
    records = ledger.records()
    _check_request_span(plain, resp.costroute, records[0])
    _check_request_span(streamed, stream.costroute, records[1])


def test_the_global_provider_is_used_only_when_asked_for(server, ledger, spans) -> None:
    from opentelemetry import trace

    provider, exporter = spans
    with Client(_config(server), ledger=ledger) as client:  # no tracer_provider: no spans anywhere
        client.chat.completions.create(messages=EASY)
    assert _finished(exporter) == []
    original = trace.get_tracer_provider
    trace.get_tracer_provider = lambda: provider  # type: ignore[assignment]
    try:
        with Client(_config(server), ledger=ledger, tracer_provider="global") as client:
            client.chat.completions.create(messages=EASY)
    finally:
        trace.get_tracer_provider = original  # type: ignore[assignment]
    assert len(_finished(exporter)) == 1


def test_import_costroute_does_not_import_opentelemetry() -> None:
    code = "import sys, costroute; sys.exit(any(m.startswith('opentelemetry') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
