"""FakeOpenAIServer replaying recorded answers: the recorded text, the recorded usage, a 404 off-script."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from costroute import Client
from costroute.spend import MemoryLedger
from costroute.testing import FakeOpenAIServer, Reply


@pytest.fixture()
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def _post(fake: FakeOpenAIServer, model: str, text: str, **extra: object) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return httpx.post(f"{fake.base_url}/chat/completions", json=body, timeout=5)


def test_replay_answers_each_prompt_with_its_recording(fake: FakeOpenAIServer) -> None:
    fake.replay("big", {"Q1": Reply("A", prompt_tokens=93, completion_tokens=1), "Q2": "B is right"})
    first = _post(fake, "big", "Q1").json()
    assert first["choices"][0]["message"]["content"] == "A"
    assert first["usage"] == {"prompt_tokens": 93, "completion_tokens": 1, "total_tokens": 94}
    second = _post(fake, "big", "Q2").json()  # a bare string: usage estimated from the text
    assert second["choices"][0]["message"]["content"] == "B is right"
    assert second["usage"]["completion_tokens"] == 3
    assert fake.calls_for("big") == 2


def test_replay_refuses_a_prompt_it_never_recorded(fake: FakeOpenAIServer) -> None:
    fake.replay("big", {"Q1": Reply("A")})
    response = _post(fake, "big", "something else")
    assert response.status_code == 404
    assert "no recorded answer of big" in response.json()["error"]["message"]


def test_recorded_usage_is_capped_by_max_tokens_and_streamed(fake: FakeOpenAIServer) -> None:
    fake.replay("big", {"Q": Reply("one two three", prompt_tokens=10, completion_tokens=30)})
    assert _post(fake, "big", "Q", max_tokens=5).json()["usage"]["completion_tokens"] == 5
    streamed = _post(fake, "big", "Q", stream=True, stream_options={"include_usage": True}).text
    assert '"content": "one two three "' in streamed and '"prompt_tokens": 10' in streamed


def test_script_accepts_a_reply_or_a_function_returning_one(fake: FakeOpenAIServer) -> None:
    fake.script("m", answer=lambda messages: Reply(f"echo {len(messages)}", prompt_tokens=7, completion_tokens=2))
    data = _post(fake, "m", "hi").json()
    assert data["choices"][0]["message"]["content"] == "echo 1"
    assert (data["usage"]["prompt_tokens"], data["usage"]["completion_tokens"]) == (7, 2)


def test_the_client_bills_the_recorded_usage_at_list_price(fake: FakeOpenAIServer) -> None:
    """Through costroute and litellm: the ledger's cost is the recorded tokens at the registry's price."""
    fake.replay("gpt-4-1106-preview", {"Q": Reply("A", prompt_tokens=93, completion_tokens=1)})
    config = {"models": [{"name": "openai/gpt-4-1106-preview", "api_base": fake.base_url,
                          "api_key": "sk-fake-0000000000"}], "cache": {"enabled": False}}
    ledger = MemoryLedger()
    with Client(config, ledger=ledger) as client:
        resp = client.chat.completions.create(messages=[{"role": "user", "content": "Q"}], max_tokens=1)
    assert resp.choices[0].message.content == "A"
    [record] = ledger.records()
    assert (record.input_tokens, record.output_tokens) == (93, 1)
    assert record.input_per_mtok and record.output_per_mtok
    assert record.cost_usd == (93 * record.input_per_mtok + record.output_per_mtok) / Decimal(1_000_000) > 0
