"""Retries, Retry-After, fallback and the error tree, through litellm with respx at the boundary."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from costroute import BadRequestError, Client, ProviderServerError, ProviderTimeoutError, RateLimitError

from .conftest import EASY, OPENAI_BASE, openai_reply, two_model_config

OPENAI_ONLY = {"models": ["openai/gpt-4o-mini", "openai/gpt-4o"]}


def _client(ledger, waits: list[float], **retry) -> Client:
    policy = dict(OPENAI_ONLY)
    if retry:
        policy["retry"] = retry
    return Client(two_model_config(**policy), ledger=ledger, sleep=waits.append)


def _models(route: respx.Route) -> list[str]:
    return [json.loads(c.request.content)["model"] for c in route.calls]


def _error(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": f"status {status}", "type": "x"}}, headers=headers)


@respx.mock
def test_429_is_retried_honouring_retry_after(ledger) -> None:
    waits: list[float] = []
    route = respx.post(f"{OPENAI_BASE}/chat/completions").mock(
        side_effect=[_error(429, **{"retry-after": "1.5"}), httpx.Response(200, json=openai_reply())])
    info = _client(ledger, waits).chat.completions.create(messages=EASY).costroute
    assert _models(route) == ["gpt-4o-mini", "gpt-4o-mini"]
    assert waits == [1.5]
    assert info.attempts == 2 and info.model == "openai/gpt-4o-mini"
    assert [r.status for r in ledger.records()] == ["error", "ok"]
    assert [r.attempt for r in ledger.records()] == [1, 2]


@respx.mock
def test_5xx_exhausts_the_model_then_falls_back(ledger) -> None:
    waits: list[float] = []
    route = respx.post(f"{OPENAI_BASE}/chat/completions").mock(
        side_effect=[_error(500), _error(503), httpx.Response(200, json=openai_reply(model="gpt-4o"))])
    info = _client(ledger, waits).chat.completions.create(messages=EASY).costroute
    assert _models(route) == ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o"]
    assert info.model == "openai/gpt-4o" and info.attempts == 3
    assert len(waits) == 1 and 0 <= waits[0] <= 1.5  # backoff with jitter, no Retry-After given


@respx.mock
def test_long_retry_after_skips_to_the_next_model(ledger) -> None:
    waits: list[float] = []
    route = respx.post(f"{OPENAI_BASE}/chat/completions").mock(
        side_effect=[_error(429, **{"retry-after": "3600"}), httpx.Response(200, json=openai_reply())])
    info = _client(ledger, waits).chat.completions.create(messages=EASY).costroute
    assert _models(route) == ["gpt-4o-mini", "gpt-4o"] and waits == []
    assert info.model == "openai/gpt-4o"


@respx.mock
def test_attempts_are_bounded_and_the_last_error_raised(ledger) -> None:
    waits: list[float] = []
    route = respx.post(f"{OPENAI_BASE}/chat/completions").mock(return_value=_error(429))
    with pytest.raises(RateLimitError) as caught:
        _client(ledger, waits, attempts_per_model=2, max_attempts=3).chat.completions.create(messages=EASY)
    assert route.call_count == 3  # litellm and the OpenAI SDK retried nothing on their own
    assert caught.value.status_code == 429 and caught.value.__cause__ is not None
    assert [r.status for r in ledger.records()] == ["error"] * 3


@respx.mock
def test_bad_request_is_neither_retried_nor_fallen_back(ledger) -> None:
    route = respx.post(f"{OPENAI_BASE}/chat/completions").mock(return_value=_error(400))
    with pytest.raises(BadRequestError) as caught:
        _client(ledger, []).chat.completions.create(messages=EASY)
    assert route.call_count == 1
    assert type(caught.value.__cause__).__module__.startswith("litellm")


@respx.mock
def test_timeouts_are_retried(ledger) -> None:
    route = respx.post(f"{OPENAI_BASE}/chat/completions").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json=openai_reply())])
    info = _client(ledger, []).chat.completions.create(messages=EASY).costroute
    assert route.call_count == 2 and info.attempts == 2


@respx.mock
def test_server_errors_map_to_provider_server_error(ledger) -> None:
    respx.post(f"{OPENAI_BASE}/chat/completions").mock(return_value=_error(502))
    with pytest.raises(ProviderServerError):
        _client(ledger, [], attempts_per_model=1, max_attempts=1).chat.completions.create(messages=EASY)


@respx.mock
async def test_async_retries_then_succeeds(ledger) -> None:
    from costroute import AsyncClient
    from costroute.providers import LiteLLMCompleter

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    route = respx.post(f"{OPENAI_BASE}/chat/completions").mock(
        side_effect=[httpx.ConnectTimeout("x"), _error(429, **{"retry-after": "0.25"}),
                     httpx.Response(200, json=openai_reply())])
    client = AsyncClient(two_model_config(**OPENAI_ONLY, retry={"attempts_per_model": 3}),
                         ledger=ledger, sleep=sleep, completer=LiteLLMCompleter(http="httpx"))  # respx sees httpx
    info = (await client.chat.completions.create(messages=EASY)).costroute
    await client.aclose()
    assert route.call_count == 3 and info.attempts == 3 and waits[-1] == 0.25


def test_timeout_error_type_is_exported() -> None:
    assert issubclass(ProviderTimeoutError, Exception) and ProviderTimeoutError.retryable


@respx.mock
def test_a_configured_fallback_nothing_prices_is_never_called(ledger) -> None:
    config = two_model_config(models=["openai/gpt-4o-mini", "openai/selfhosted"],
                              fallbacks={"openai/gpt-4o-mini": ["openai/selfhosted"]}, baseline="openai/gpt-4o-mini")
    config["models"].append({"name": "openai/selfhosted", "quality": 0.9, "api_key": "sk-x"})  # no price anywhere
    route = respx.post(f"{OPENAI_BASE}/chat/completions").mock(return_value=_error(503))
    client = Client(config, ledger=ledger, sleep=lambda s: None)
    with pytest.raises(ProviderServerError):
        client.chat.completions.create(messages=EASY)
    assert set(_models(route)) == {"gpt-4o-mini"}  # the unpriced fallback is not tried
    assert {r.model for r in ledger.records()} == {"openai/gpt-4o-mini"}


def test_the_policy_answer_cap_does_not_exclude_a_model_with_a_smaller_limit(ledger) -> None:
    config = two_model_config(models=["openai/gpt-4o-mini", "openai/gpt-4o"], max_output_tokens=4096)
    config["models"][0]["max_output_tokens"] = 2000
    client = Client(config, ledger=ledger)
    decision = client.route(EASY)
    assert decision.model == "openai/gpt-4o-mini"  # still the cheapest: the cap is lowered for it
    plan = client._engine.plan({"messages": EASY})
    assert client._engine.call_for(plan, "openai/gpt-4o-mini").params["max_tokens"] == 2000
    asked = client.route(EASY, max_tokens=3000)  # a cap the caller asks for is a requirement
    rejected = {c.model: c.rejected for c in asked.candidates}
    assert asked.model == "openai/gpt-4o" and "max output 2000" in (rejected["openai/gpt-4o-mini"] or "")


@respx.mock
def test_an_answer_that_cannot_be_read_is_not_resent_and_is_never_recorded_free(ledger) -> None:
    from costroute import ProviderResponseError
    from costroute.spend import MemoryBudgetStore

    config = two_model_config(**OPENAI_ONLY)
    config["budgets"] = [{"name": "daily", "limit_usd": 10, "period": "day"}]
    unreadable = httpx.Response(200, content=b"not json", headers={"content-type": "application/json"})
    route = respx.post(f"{OPENAI_BASE}/chat/completions").mock(return_value=unreadable)
    client = Client(config, ledger=ledger, sleep=lambda s: None, budget_store=MemoryBudgetStore())
    with pytest.raises(ProviderResponseError) as caught:
        client.chat.completions.create(messages=EASY)
    assert route.call_count == 1 and not caught.value.retryable  # answered (and billed) once: not again
    [record] = ledger.records()
    assert record.status == "error" and record.estimated and record.cost_usd > 0
    [state] = client.budgets.snapshot()
    assert state.reserved == 0 and state.spent == record.cost_usd


@respx.mock
def test_a_refused_connection_is_a_connection_error_without_a_made_up_status(ledger) -> None:
    from costroute import ProviderConnectionError

    respx.post(f"{OPENAI_BASE}/chat/completions").mock(side_effect=httpx.ConnectError("refused"))
    client = Client(two_model_config(**OPENAI_ONLY), ledger=ledger, sleep=lambda s: None)
    with pytest.raises(ProviderConnectionError) as caught:
        client.chat.completions.create(messages=EASY)
    assert caught.value.status_code is None and caught.value.retryable


@pytest.mark.parametrize("header", ["-1", "nan"])
@respx.mock
def test_a_nonsense_retry_after_is_not_a_crash(ledger, header: str) -> None:
    waits: list[float] = []
    respx.post(f"{OPENAI_BASE}/chat/completions").mock(
        side_effect=[_error(429, **{"retry-after": header}), httpx.Response(200, json=openai_reply())])
    info = _client(ledger, waits).chat.completions.create(messages=EASY).costroute
    assert info.attempts == 2 and all(w >= 0 for w in waits)


@pytest.mark.parametrize("key", ["sk-live-ABCDEF1234567890", "abc12"])
@respx.mock
def test_the_key_appears_nowhere_in_the_error_chain_even_when_echoed(ledger, key: str) -> None:
    import traceback

    from costroute import AuthenticationError

    config = two_model_config(**OPENAI_ONLY)
    for model in config["models"]:
        model["api_key"] = key
    echo = {"error": {"message": f"Incorrect API key provided: Bearer {key}", "type": "invalid_request_error"}}
    respx.post(f"{OPENAI_BASE}/chat/completions").mock(return_value=httpx.Response(401, json=echo))
    with pytest.raises(AuthenticationError) as caught:
        Client(config, ledger=ledger, sleep=lambda s: None).chat.completions.create(messages=EASY)
    printed = "".join(traceback.format_exception(caught.value))
    assert key not in printed and key not in repr(caught.value.__cause__) and "***" in str(caught.value)
    assert all(key not in r.error for r in ledger.records())


@respx.mock
def test_a_key_from_the_environment_is_redacted_too(ledger, monkeypatch) -> None:
    from costroute import AuthenticationError

    key = "sk-env-SECRET-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    config = two_model_config(**OPENAI_ONLY)
    for model in config["models"]:
        model.pop("api_key")
    echo = {"error": {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error"}}
    respx.post(f"{OPENAI_BASE}/chat/completions").mock(return_value=httpx.Response(401, json=echo))
    with pytest.raises(AuthenticationError) as caught:
        Client(config, ledger=ledger, sleep=lambda s: None).chat.completions.create(messages=EASY)
    assert key not in str(caught.value) and all(key not in r.error for r in ledger.records())


@respx.mock
def test_a_failed_attempt_prints_nothing(ledger, capsys) -> None:
    respx.post(f"{OPENAI_BASE}/chat/completions").mock(
        side_effect=[_error(500), httpx.Response(200, json=openai_reply())])
    _client(ledger, []).chat.completions.create(messages=EASY)
    assert capsys.readouterr().out == ""
