"""POST /v1/chat/completions through the official openai SDK, against a real uvicorn with the
loopback fake provider behind it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import openai
import pytest

from costroute.testing import FakeOpenAIServer

from .conftest import ADS_KEY, ANSWER, EASY, TEAM_KEY, UPSTREAM_KEY, pool

_OPEN: list[openai.OpenAI] = []


@pytest.fixture(autouse=True)
def _close_sdks() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _sdk(url: str, key: str = "unused", **kw) -> openai.OpenAI:
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, **kw)
    _OPEN.append(client)
    return client


def test_non_stream_answer_carries_headers_body_facts_and_one_record(serve, fake: FakeOpenAIServer) -> None:
    fake.script("cheap-model", answer=ANSWER)
    running = serve()
    raw = _sdk(running.url).chat.completions.with_raw_response.create(model="auto", messages=EASY)
    resp = raw.parse()
    assert resp.choices[0].message.content == ANSWER
    [record] = running.ledger.records()
    h = raw.headers
    assert h["x-costroute-request-id"] == record.request_id
    assert h["x-costroute-model"] == record.model == "openai/cheap-model"
    assert h["x-costroute-tier"] == "economy"
    assert Decimal(h["x-costroute-cost-usd"]) == record.cost_usd > 0
    assert Decimal(h["x-costroute-baseline-cost-usd"]) == record.baseline_cost_usd > record.cost_usd
    assert h["x-costroute-cache-hit"] == "false"
    facts = resp.model_extra["costroute"]
    assert facts["request_id"] == record.request_id and Decimal(facts["cost_usd"]) == record.cost_usd
    assert facts["policy"] == "default" and facts["cache_hit"] is False
    assert resp.usage.completion_tokens == len(ANSWER.split())


def test_repeat_is_a_cache_hit_with_headers_saying_so(serve, fake: FakeOpenAIServer) -> None:
    running = serve()
    sdk = _sdk(running.url)
    sdk.chat.completions.create(messages=EASY, model="auto", temperature=0)
    raw = sdk.chat.completions.with_raw_response.create(messages=EASY, model="auto", temperature=0)
    assert raw.headers["x-costroute-cache-hit"] == "true" and Decimal(raw.headers["x-costroute-cost-usd"]) == 0
    assert fake.calls_for("cheap-model") == 1
    assert [r.status for r in running.ledger.records()] == ["ok", "cache_hit"]


def test_model_names_a_policy_a_pinned_model_or_nothing_known(serve, fake: FakeOpenAIServer) -> None:
    running = serve()
    sdk = _sdk(running.url)
    hard = [{"role": "user", "content": "Prove there are infinitely many primes, step by step, rigorously."}]
    sdk.chat.completions.create(model="cheap", messages=hard)
    pinned = sdk.chat.completions.with_raw_response.create(model="openai/strong-model", messages=EASY)
    alias = sdk.chat.completions.with_raw_response.create(model="strong-model",
                                                          messages=[{"role": "user", "content": "Hello?"}])
    records = running.ledger.records()
    assert records[0].policy == "cheap" and records[0].model == "openai/cheap-model"
    assert pinned.headers["x-costroute-model"] == "openai/strong-model" and pinned.parse().model_extra[
        "costroute"]["pinned"] is True
    assert alias.headers["x-costroute-model"] == "openai/strong-model"
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="gpt-nonexistent", messages=EASY)
    assert caught.value.code == "model_not_found" and caught.value.param == "model"
    assert len(fake.calls) == 3


def test_body_fields_policy_tags_and_cache_ride_in_extra_body(serve, fake: FakeOpenAIServer) -> None:
    running = serve()
    sdk = _sdk(running.url)
    sdk.chat.completions.create(model="auto", messages=EASY, extra_body={"policy": "cheap", "tags": {"user": "u1"},
                                                           "cache": False})
    sdk.chat.completions.create(model="auto", messages=EASY, extra_body={"cache": False})
    first, second = running.ledger.records()
    assert first.policy == "cheap" and first.tags == {"user": "u1"}
    assert second.status == "ok" and fake.calls_for("cheap-model") == 2  # cache: false, never looked up


def test_streaming_sync_with_usage_chunk_and_final_facts(serve, fake: FakeOpenAIServer) -> None:
    fake.script("cheap-model", answer=ANSWER)
    running = serve()
    with _sdk(running.url).chat.completions.with_streaming_response.create(
            model="auto", messages=EASY, stream=True, stream_options={"include_usage": True}) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        rid, model = raw.headers["x-costroute-request-id"], raw.headers["x-costroute-model"]
        assert raw.headers["x-costroute-cost-usd"] == "pending" and raw.headers["x-costroute-tier"] == "economy"
        chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == ANSWER
    last = chunks[-1]
    assert last.choices == [] and last.usage.completion_tokens == len(ANSWER.split())
    [record] = running.ledger.records()
    assert record.request_id == rid and record.model == model and record.status == "ok"
    assert Decimal(last.model_extra["costroute"]["cost_usd"]) == record.cost_usd > 0


def test_streaming_without_include_usage_sends_only_choice_chunks_and_done(serve, fake: FakeOpenAIServer) -> None:
    fake.script("cheap-model", answer=ANSWER)
    running = serve()
    with httpx.stream("POST", running.url + "/v1/chat/completions",
                      json={"messages": EASY, "stream": True}) as resp:
        lines = [line for line in resp.iter_lines() if line]
    data = [line[6:] for line in lines if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks and all(c["choices"] and "usage" not in c for c in chunks)
    assert chunks[0]["object"] == "chat.completion.chunk"
    comment = [line for line in lines if line.startswith(": costroute ")]
    [record] = running.ledger.records()
    assert json.loads(comment[0][len(": costroute "):])["request_id"] == record.request_id


async def test_async_sdk_plain_and_streaming(serve, fake: FakeOpenAIServer) -> None:
    fake.script("cheap-model", answer=ANSWER)
    running = serve()
    async with openai.AsyncOpenAI(base_url=running.url + "/v1", api_key="x", max_retries=0) as sdk:
        resp = await sdk.chat.completions.create(messages=EASY, model="auto")
        stream = await sdk.chat.completions.create(model="auto", stream=True,
                                                   messages=[{"role": "user", "content": "And Spain?"}])
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert resp.choices[0].message.content == ANSWER and text.strip() == ANSWER
    assert [r.status for r in running.ledger.records()] == ["ok", "ok"]


# -- virtual keys -----------------------------------------------------------------------------------

def _keyed(fake: FakeOpenAIServer) -> dict:
    return pool(fake, server={"keys": [
        {"key": TEAM_KEY, "name": "search", "tags": {"team": "search"}, "policies": ["cheap", "default"]},
        {"key_sha256": hashlib.sha256(ADS_KEY.encode()).hexdigest(), "tags": {"team": "ads"}},
    ]})


def test_keys_authenticate_tag_and_limit_policies(serve, fake: FakeOpenAIServer) -> None:
    running = serve(_keyed(fake))
    none = httpx.post(running.url + "/v1/chat/completions", json={"messages": EASY})
    with pytest.raises(openai.AuthenticationError) as wrong:
        _sdk(running.url, "not-a-key-at-all").chat.completions.create(model="auto", messages=EASY)
    assert none.status_code == 401 and none.json()["error"]["code"] == wrong.value.code == "invalid_api_key"
    team = _sdk(running.url, TEAM_KEY)
    team.chat.completions.create(model="auto", messages=EASY, extra_body={"tags": {"team": "spoofed", "user": "u7"}})
    with pytest.raises(openai.PermissionDeniedError) as denied:
        team.chat.completions.create(model="auto", messages=EASY, extra_body={"policy": "other"})
    assert denied.value.code == "policy_not_allowed"
    _sdk(running.url, ADS_KEY).chat.completions.create(messages=[{"role": "user", "content": "Hi ads"}],
                                                       model="default")
    first, second = running.ledger.records()
    assert first.tags == {"team": "search", "user": "u7"}  # the key's tags win
    assert first.policy == "cheap"  # a key's first policy is its default
    assert second.tags == {"team": "ads"} and second.policy == "default"
    assert len(fake.calls) == 2  # refusals reached no provider
    assert [m.id for m in _sdk(running.url, TEAM_KEY).models.list().data][:3] == ["auto", "cheap", "default"]
    with pytest.raises(openai.AuthenticationError):
        _sdk(running.url, TEAM_KEY[:-1]).models.list()


# -- errors -------------------------------------------------------------------------------------------

def _one_try(fake: FakeOpenAIServer, **extra) -> dict:
    config = pool(fake, **extra)
    config["policies"]["cheap"]["retry"] = {"attempts_per_model": 1, "max_attempts": 1, "backoff_s": 0}
    config["models"][0]["timeout_s"] = 0.5
    return config


@pytest.mark.parametrize(("failure", "error", "status", "code"), [
    (429, openai.RateLimitError, 429, "rate_limit_exceeded"),
    (500, openai.InternalServerError, 502, "upstream_error"),
    (401, openai.InternalServerError, 502, "upstream_error"),  # the upstream key is ours, not the caller's
])
def test_provider_failures_map_to_openai_errors(serve, fake: FakeOpenAIServer, failure, error, status,
                                                code) -> None:
    fake.script("cheap-model", failures=[failure] * 3)
    running = serve(_one_try(fake))
    with pytest.raises(error) as caught:
        _sdk(running.url).chat.completions.create(messages=EASY, model="cheap")
    assert caught.value.status_code == status and caught.value.code == code
    body = json.dumps(caught.value.body)
    assert UPSTREAM_KEY not in body and "capital of France" not in body and "Traceback" not in body
    assert caught.value.response.headers["x-costroute-request-id"].startswith("cr-")


def test_provider_timeout_is_504(serve, fake: FakeOpenAIServer) -> None:
    fake.script("cheap-model", latency_s=2.0)
    running = serve(_one_try(fake))
    with pytest.raises(openai.InternalServerError) as caught:
        _sdk(running.url).chat.completions.create(messages=EASY, model="cheap")
    assert caught.value.status_code == 504 and caught.value.code == "upstream_timeout"
    [record] = running.ledger.records()
    assert record.estimated  # the provider may have billed it


def test_budget_block_is_429_budget_exceeded_and_nothing_sent(serve, fake: FakeOpenAIServer) -> None:
    running = serve(pool(fake, budgets=[{"name": "tiny", "limit_usd": "0.000001", "period": "month"}],
                         budget_store={"backend": "memory"}))
    with pytest.raises(openai.RateLimitError) as caught:
        _sdk(running.url).chat.completions.create(model="auto", messages=EASY)
    assert caught.value.code == "budget_exceeded" and caught.value.type == "insufficient_quota"
    assert caught.value.response.headers["x-should-retry"] == "false"  # a month away: SDKs do not retry
    assert not fake.calls and not running.ledger.records()


def test_budget_retry_after_when_the_period_resets_soon() -> None:
    from datetime import datetime, timezone

    from costroute import BudgetExceeded
    from costroute.server._errors import error_reply
    from costroute.spend import BudgetConfig

    budgets = {"h": BudgetConfig(name="h", limit_usd=Decimal(1), period="hour")}
    exc = BudgetExceeded("no room", budget="h")
    soon = error_reply(exc, budgets, datetime(2026, 1, 1, 10, 58, 30, tzinfo=timezone.utc))
    later = error_reply(exc, budgets, datetime(2026, 1, 1, 10, 5, tzinfo=timezone.utc))
    assert soon.status == 429 and soon.headers["retry-after"] == "90"
    assert "retry-after" not in later.headers and later.headers["x-should-retry"] == "false"


def test_no_adequate_model_is_400(serve, fake: FakeOpenAIServer) -> None:
    config = pool(fake)
    for model in config["models"]:
        model["max_input_tokens"] = 5
    running = serve(config)
    with pytest.raises(openai.BadRequestError) as caught:
        _sdk(running.url).chat.completions.create(model="auto", messages=EASY)
    assert caught.value.code == "no_adequate_model" and not fake.calls


def test_ledger_unavailable_is_503_and_nothing_sent(serve, fake: FakeOpenAIServer) -> None:
    running = serve(pool(fake, ledger={"backend": "postgres", "dsn": "postgresql://nobody@127.0.0.1:1/none",
                                       "timeout_s": 0.5}), ledger=None)
    with pytest.raises(openai.InternalServerError) as caught:
        _sdk(running.url).chat.completions.create(model="auto", messages=EASY)
    assert caught.value.status_code == 503 and caught.value.code == "ledger_unavailable"
    assert not fake.calls
    ready = httpx.get(running.url + "/readyz")
    assert ready.status_code == 503 and ready.json()["ledger"].startswith("unavailable")


def test_bad_bodies_are_400_naming_the_place(serve, fake: FakeOpenAIServer) -> None:
    running = serve()
    url = running.url + "/v1/chat/completions"
    assert httpx.post(url, content=b"{not json").json()["error"]["code"] == "invalid_json"
    assert httpx.post(url, json=[1, 2]).status_code == 400
    missing = httpx.post(url, json={"model": "auto"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "messages"
    role = httpx.post(url, json={"messages": [{"role": "robot", "content": "x"}]})
    assert role.json()["error"]["param"] == "messages[0].role"
    unknown = httpx.post(url, json={"messages": EASY, "frobnicate": 1})
    assert unknown.status_code == 400
    assert not fake.calls


def test_body_over_the_limit_is_refused_before_parsing(serve, fake: FakeOpenAIServer) -> None:
    running = serve(pool(fake, server={"max_body_bytes": 1000}))
    url = running.url + "/v1/chat/completions"
    declared = httpx.post(url, content=b"x" * 5000, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "request_too_large"

    def chunks():  # no Content-Length: counted while reading
        for _ in range(10):
            yield b"y" * 500

    counted = httpx.post(url, content=chunks())
    assert counted.status_code == 413
    ok = httpx.post(url, json={"messages": EASY})
    assert ok.status_code == 200 and len(fake.calls) == 1


def test_models_health_and_readiness(serve, fake: FakeOpenAIServer) -> None:
    running = serve()
    ids = [m.id for m in _sdk(running.url).models.list().data]
    assert ids == ["auto", "cheap", "default", "openai/cheap-model", "openai/strong-model"]
    assert httpx.get(running.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(running.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["ledger"] == "ok" and ready.json()["cache"] == "ok"


def test_requests_beyond_max_in_flight_wait_then_get_503_overloaded(serve, fake: FakeOpenAIServer) -> None:
    import threading

    fake.script("cheap-model", latency_s=1.5)
    running = serve(pool(fake, server={"max_in_flight": 1, "queue_timeout_s": 0.3}))
    _sdk(running.url).chat.completions.create(model="auto", messages=[{"role": "user", "content": "warm"}])
    fake.calls.clear()
    got: list[int] = []

    def call(text: str) -> None:
        reply = httpx.post(running.url + "/v1/chat/completions", timeout=30,
                           json={"messages": [{"role": "user", "content": text}]})
        got.append(reply.status_code)
        if reply.status_code == 503:
            assert reply.json()["error"]["code"] == "overloaded" and reply.headers["retry-after"] == "1"

    threads = [threading.Thread(target=call, args=(f"q{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [200, 503] and len(fake.calls) == 1  # the refused one reached no provider
    assert running.state.slots._value == 1  # every place given back


def test_a_cached_answer_streams_with_its_facts_in_the_headers(serve, fake: FakeOpenAIServer) -> None:
    fake.script("cheap-model", answer=ANSWER)
    running = serve()
    sdk = _sdk(running.url)
    sdk.chat.completions.create(model="auto", messages=EASY, temperature=0)
    with sdk.chat.completions.with_streaming_response.create(model="auto", messages=EASY, temperature=0,
                                                             stream=True) as raw:
        assert raw.headers["x-costroute-cache-hit"] == "true" and Decimal(raw.headers["x-costroute-cost-usd"]) == 0
        chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip() == ANSWER
    assert fake.calls_for("cheap-model") == 1
    assert [r.status for r in running.ledger.records()] == ["ok", "cache_hit"]
