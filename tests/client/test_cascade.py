"""Cascades at request time: the policy's cascade decides, the request loop makes the calls, every
call is reserved before the first one, booked with its step and verdict, and explained."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from costroute import AsyncClient, BudgetExceeded, Client
from costroute.spend import MemoryBudgetStore
from costroute.testing import FakeOpenAIServer, Reply

QUESTION = [{"role": "user", "content": "Which is a prime?\nA) 4\nB) 7\nC) 9\nD) 12\nAnswer with the letter."}]


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def _model(server: FakeOpenAIServer, name: str, price: str, quality: float) -> dict[str, Any]:
    return {"name": f"openai/{name}", "api_base": server.base_url, "api_key": "sk-loop", "quality": quality,
            "price": {"input_per_mtok": price, "output_per_mtok": price}}


def _config(server: FakeOpenAIServer, accept: dict[str, Any], **cascade: Any) -> dict[str, Any]:
    return {
        "models": [_model(server, "small", "1", 0.5), _model(server, "tiny", "0.5", 0.4),
                   _model(server, "big", "20", 0.9)],
        "policies": {"default": {"baseline": "openai/big", "max_output_tokens": 50, "strategy": "cascade",
                                 "cascade": {"steps": ["openai/small"], "final": "openai/big", "accept": accept,
                                             **cascade}}},
        "budgets": [{"name": "b", "limit_usd": "1", "period": "day"}],
    }


AGREEMENT = {"agreement": {"with": ["openai/tiny"], "min": 1}}


def _script(server: FakeOpenAIServer, **answers: str) -> None:
    for model, text in answers.items():
        server.script(model, answer=Reply(text, prompt_tokens=100, completion_tokens=5))


def test_agreeing_cheap_answers_are_accepted_without_the_final_model(server, ledger) -> None:
    _script(server, small="B", tiny="The answer is (B) 7", big="B")
    with Client(_config(server, AGREEMENT), ledger=ledger, budget_store=MemoryBudgetStore()) as client:
        resp = client.chat.completions.create(messages=QUESTION)
        (state,) = client.budgets.snapshot() if client.budgets else ()
    assert sorted(c["model"] for c in server.calls) == ["small", "tiny"]
    info = resp.costroute
    assert info.model == "openai/small" and resp.choices[0].message.content == "B"
    assert info.cost_usd == (105 * Decimal(1) + 105 * Decimal("0.5")) / 1_000_000  # both calls
    assert info.cascade is not None and info.cascade["accepted_by"] == "agreement"
    records = {r.model: r for r in ledger.records()}
    assert records["openai/small"].role == "cascade_step" and records["openai/small"].step == 1
    assert records["openai/small"].verdict.startswith("accepted")
    assert records["openai/tiny"].role == "verifier"
    assert {r.request_id for r in records.values()} == {info.request_id}
    assert len({r.attempt for r in records.values()}) == 2  # one record per call, none overwritten
    assert state.spent == sum(r.cost_usd for r in records.values()) and state.reserved == 0


def test_disagreement_escalates_to_the_final_model(server, ledger) -> None:
    _script(server, small="B", tiny="A", big="B) 7")
    with Client(_config(server, AGREEMENT), ledger=ledger) as client:
        resp = client.chat.completions.create(messages=QUESTION)
    assert sorted(c["model"] for c in server.calls) == ["big", "small", "tiny"]
    info = resp.costroute
    assert info.model == "openai/big" and resp.choices[0].message.content == "B) 7"
    assert [s["status"] for s in info.cascade["steps"]] == ["escalated"] and info.cascade["accepted_by"] == "final"
    assert "openai/tiny=A" in info.cascade["steps"][0]["reason"]
    assert info.cost_usd.quantize(Decimal("0.00001")) == sum(r.cost_usd for r in ledger.records()).quantize(
        Decimal("0.00001"))  # exact here, each record rounded to the micro-dollar
    assert {r.model: r.verdict for r in ledger.records()}["openai/big"] == "final"


def test_a_judge_grades_the_step(server, ledger) -> None:
    _script(server, small="B", big="B")
    server.script("tiny", answer=Reply("9", prompt_tokens=300, completion_tokens=1))
    with Client(_config(server, {"judge": {"model": "openai/tiny", "min_score": 0.7}}), ledger=ledger) as client:
        resp = client.chat.completions.create(messages=QUESTION)
    judged = next(c for c in server.calls if c["model"] == "tiny")
    assert judged["messages"][0]["role"] == "system" and "B" in judged["messages"][-1]["content"]
    assert resp.costroute.model == "openai/small" and {r.role for r in ledger.records()} == {"cascade_step", "judge"}


def test_the_whole_cascade_is_reserved_before_its_first_call(server, ledger) -> None:
    _script(server, small="B", tiny="B", big="B")
    config = _config(server, AGREEMENT)
    config["budgets"] = [{"name": "b", "limit_usd": "0.001", "period": "day"}]  # < the final model's worst case
    with Client(config, ledger=ledger, budget_store=MemoryBudgetStore()) as client, pytest.raises(BudgetExceeded):
        client.chat.completions.create(messages=QUESTION)
    assert server.calls == [] and ledger.records() == []


def test_a_failed_step_escalates_and_is_booked(server, ledger) -> None:
    _script(server, tiny="B", big="B")
    server.script("small", failures=[400])
    with Client(_config(server, AGREEMENT), ledger=ledger) as client:
        resp = client.chat.completions.create(messages=QUESTION)
    assert resp.costroute.model == "openai/big"
    failed = [r for r in ledger.records() if r.status == "error"]
    assert [r.model for r in failed] == ["openai/small"] and failed[0].role == "cascade_step"


def test_a_streamed_cascade_streams_the_verified_answer(server, ledger) -> None:
    _script(server, small="B", tiny="(B)", big="B")
    with Client(_config(server, AGREEMENT), ledger=ledger) as client:
        stream = client.chat.completions.create(messages=QUESTION, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "B" and stream.costroute is not None and stream.costroute.model == "openai/small"
    assert all(not c.get("stream") for c in server.calls)  # verified first, then replayed


def test_a_pinned_model_bypasses_the_cascade(server, ledger) -> None:
    _script(server, small="B", tiny="A", big="B")
    with Client(_config(server, AGREEMENT), ledger=ledger) as client:
        resp = client.chat.completions.create(messages=QUESTION, model="openai/big")
    assert [c["model"] for c in server.calls] == ["big"] and resp.costroute.cascade is None


async def test_the_async_client_runs_cascades_too(server, ledger) -> None:
    _script(server, small="B", tiny="A", big="B")
    async with AsyncClient(_config(server, AGREEMENT), ledger=ledger) as client:
        resp = await client.chat.completions.create(messages=QUESTION)
    assert resp.costroute.model == "openai/big" and len(ledger.records()) == 3
