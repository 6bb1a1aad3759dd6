"""Shadow sampling: sampled requests are also answered by a reference model in the background, a
position-swapped judge labels the routed answer, and the label is kept as judge feedback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from costroute import AsyncClient, Client
from costroute.spend import MemoryBudgetStore
from costroute.testing import FakeOpenAIServer, Reply

from .conftest import EASY

ROUTED, REFERENCE = "Paris, the capital.", "The capital of France is Paris."


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        fake.script("cheap", answer=Reply(ROUTED, prompt_tokens=20, completion_tokens=5))
        fake.script("big", answer=Reply(REFERENCE, prompt_tokens=20, completion_tokens=8))
        fake.script("judge", answer=_judge)
        yield fake


def _judge(messages: list[dict[str, Any]]) -> Reply:
    """Prefers the routed answer wherever it stands (so the label is 1.0 only if both orders ran)."""
    text = messages[-1]["content"]
    routed_first = text.index(ROUTED) < text.index(REFERENCE)
    return Reply("[[A]]" if routed_first else "[[B]]", prompt_tokens=200, completion_tokens=3)


def _config(server: FakeOpenAIServer, **shadow: Any) -> dict[str, Any]:
    def model(name: str, quality: float, price: str) -> dict[str, Any]:
        return {"name": f"openai/{name}", "api_base": server.base_url, "api_key": "sk-loop", "quality": quality,
                "price": {"input_per_mtok": price, "output_per_mtok": price}}

    return {"models": [model("cheap", 0.5, "1"), model("big", 0.9, "10"), model("judge", 0.6, "2")],
            "policies": {"default": {"models": ["openai/cheap"], "baseline": "openai/cheap",
                                     "shadow": {"rate": 1.0, "reference": "openai/big", "judge": "openai/judge",
                                                **shadow}}},
            "budgets": [{"name": "all", "limit_usd": "1", "period": "day"}]}


def _check(server: FakeOpenAIServer, ledger, request_id: str) -> None:
    assert sorted(c["model"] for c in server.calls) == ["big", "cheap", "judge", "judge"]
    records = ledger.records()
    answer = next(r for r in records if r.request_id == request_id)
    assert answer.role == "answer" and answer.model == "openai/cheap"
    shadows = [r for r in records if r.request_id != request_id]
    assert sorted(r.role for r in shadows) == ["judge", "judge", "shadow"]
    assert {r.parent_request_id for r in shadows} == {request_id} and all(r.tags == {"costroute": "shadow"}
                                                                           for r in shadows)
    [label] = [f for f in ledger.feedback_entries() if f.request_id == request_id]
    assert label.source == "judge" and label.score == 1.0 and label.model == "openai/cheap"


def test_a_sampled_request_is_judged_against_the_reference_in_the_background(server, ledger) -> None:
    store = MemoryBudgetStore()
    with Client(_config(server), ledger=ledger, budget_store=store) as client:
        resp = client.chat.completions.create(messages=EASY)
        assert resp.choices[0].message.content == ROUTED  # the user's answer is the routed one
    _check(server, ledger, resp.costroute.request_id)  # close() waited for the background work
    assert all(s.reserved == 0 for s in client.budgets.snapshot()) if client.budgets else True


def test_the_daily_shadow_cap_stops_shadow_calls(server, ledger) -> None:
    with Client(_config(server, max_usd_per_day="0.000001"), ledger=ledger, budget_store=MemoryBudgetStore()) as c:
        c.chat.completions.create(messages=EASY)
    assert [call["model"] for call in server.calls] == ["cheap"] and len(ledger.records()) == 1


def test_a_rate_of_zero_samples_nothing(server, ledger) -> None:
    with Client(_config(server, rate=0.0), ledger=ledger) as client:
        for _ in range(5):
            client.chat.completions.create(messages=EASY)
    assert {c["model"] for c in server.calls} == {"cheap"}


async def test_the_async_client_shadows_in_a_task(server, ledger) -> None:
    async with AsyncClient(_config(server), ledger=ledger, budget_store=MemoryBudgetStore()) as client:
        resp = await client.chat.completions.create(messages=EASY)
        assert resp.choices[0].message.content == ROUTED
    _check(server, ledger, resp.costroute.request_id)
