"""Every malformed request fails with a clear error before any provider is called or money spent."""

from __future__ import annotations

import math

import pytest
import respx

from costroute import (
    Client,
    NoAdequateModelError,
    RequestValidationError,
    UnknownModelPriceError,
)

from .conftest import EASY, OPENAI_BASE, two_model_config

BAD_MESSAGES = [
    ("What is 2+2?", "messages", "must be a list"),
    ([], "messages", "at least one message"),
    (None, "messages", "must be a list"),
    (["hello"], "messages[0]", "must be a mapping"),
    ([{"content": "hi"}], "messages[0]", "missing 'role'"),
    ([{"role": "wizard", "content": "hi"}], "messages[0].role", "unknown role"),
    ([{"role": "user"}], "messages[0]", "missing 'content'"),
    ([{"role": "user", "content": 42}], "messages[0].content", "string or a list"),
    ([{"role": "user", "content": []}], "messages[0].content", "empty list"),
    ([{"role": "user", "content": [{"type": "text"}]}], "messages[0].content[0]", "string 'text'"),
    ([{"role": "user", "content": None}], "messages[0].content", "is None"),
    ([{"role": "user", "content": "a"}, {"role": "tool", "content": "r"}], "messages[1]", "tool_call_id"),
]

BAD_PARAMS = [
    ({"max_tokens": -1}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": "100"}, "max_tokens"),
    ({"max_tokens": 10**9}, "max_tokens"),
    ({"max_tokens": 1.5}, "max_tokens"),
    ({"temperature": 7}, "temperature"),
    ({"temperature": math.nan}, "temperature"),
    ({"top_p": -0.1}, "top_p"),
    ({"n": 0}, "n"),
    ({"presence_penalty": 3}, "presence_penalty"),
    ({"stop": [1, 2]}, "stop"),
    ({"tools": "search"}, "tools"),
    ({"tags": ["user"]}, "tags"),
    ({"tags": {"user": {"nested": 1}}}, "tags['user']"),
    ({"policy": "defualt"}, "policy"),
]


@pytest.fixture()
def client(ledger) -> Client:
    return Client(two_model_config(), ledger=ledger)


@pytest.mark.parametrize(("messages", "location", "words"), BAD_MESSAGES)
@respx.mock(assert_all_called=False)
def test_bad_messages(client: Client, ledger, messages, location: str, words: str) -> None:
    route = respx.post(f"{OPENAI_BASE}/chat/completions")
    with pytest.raises(RequestValidationError) as caught:
        client.chat.completions.create(messages=messages)
    assert caught.value.location == location and words in str(caught.value)
    assert not route.called and ledger.records() == []


@pytest.mark.parametrize(("params", "location"), BAD_PARAMS)
@respx.mock(assert_all_called=False)
def test_absurd_parameters(client: Client, ledger, params: dict, location: str) -> None:
    route = respx.post(f"{OPENAI_BASE}/chat/completions")
    with pytest.raises(RequestValidationError) as caught:
        client.chat.completions.create(messages=EASY, **params)
    assert caught.value.location == location
    assert not route.called and ledger.records() == []


def test_unknown_policy_suggests_the_close_one(client: Client) -> None:
    with pytest.raises(RequestValidationError, match="did you mean default"):
        client.route(EASY, policy="defualt")


def test_pinned_unpriced_model_is_refused_not_recorded_as_free(client: Client, ledger) -> None:
    with pytest.raises(UnknownModelPriceError, match="no price is known for model 'acme/mystery-1'"):
        client.chat.completions.create(messages=EASY, model="acme/mystery-1")
    assert ledger.records() == []


def test_unpriced_pool_model_is_excluded_with_a_reason(ledger) -> None:
    config = two_model_config()
    config["models"].append({"name": "acme/mystery-1", "quality": 0.99, "api_key": "k"})
    decision = Client(config, ledger=ledger).route(EASY)
    [mystery] = [c for c in decision.candidates if c.model == "acme/mystery-1"]
    assert mystery.rejected and "no price" in mystery.rejected and mystery.est_cost_usd is None


def test_no_adequate_model_lists_every_reason(ledger) -> None:
    config = two_model_config()
    for model in config["models"]:
        model["supports"] = {"tools": False}
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    with pytest.raises(NoAdequateModelError) as caught:
        Client(config, ledger=ledger).chat.completions.create(messages=EASY, tools=tools)
    assert set(caught.value.rejections) == {m["name"] for m in config["models"]}
    assert all("does not support tools" in why for why in caught.value.rejections.values())


def test_context_window_too_small_escalates(ledger) -> None:
    config = two_model_config()
    config["models"][0]["max_input_tokens"] = 100
    long_prompt = [{"role": "user", "content": "Say hello. " * 200}]
    decision = Client(config, ledger=ledger).route(long_prompt, max_tokens=50)
    assert decision.model != "openai/gpt-4o-mini"
    [mini] = [c for c in decision.candidates if c.model == "openai/gpt-4o-mini"]
    assert mini.rejected and "context window 100" in mini.rejected
