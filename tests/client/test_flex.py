"""Flex: ``deferrable=True`` routes at flex prices where a provider offers flex, asks for it, books
what the provider says served the answer, and on a flex refusal asks again at the default tier."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from costroute import Client, RateLimitError
from costroute.spend import MemoryBudgetStore
from costroute.testing import FakeOpenAIServer, Reply

from .conftest import EASY


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def _model(server: FakeOpenAIServer, name: str, price: tuple[str, str], flex: tuple[str, str] | None = None,
           quality: float = 0.5) -> dict[str, Any]:
    spec: dict[str, Any] = {"input_per_mtok": price[0], "output_per_mtok": price[1]}
    if flex:
        spec["flex"] = {"input_per_mtok": flex[0], "output_per_mtok": flex[1]}
    return {"name": name, "api_base": server.base_url, "api_key": "sk-loop", "quality": quality, "price": spec}


def _config(server: FakeOpenAIServer, *models: dict[str, Any], **policy: Any) -> dict[str, Any]:
    return {"models": list(models),
            "policies": {"default": {"max_output_tokens": 100, "retry": {"attempts_per_model": 2}, **policy}},
            "budgets": [{"name": "b", "limit_usd": "1", "period": "day"}]}


ANSWER = Reply("Paris.", prompt_tokens=1000, completion_tokens=10)


def test_deferrable_asks_for_flex_and_books_the_flex_price(server, ledger) -> None:
    server.script("o4-mini", answer=ANSWER)
    config = _config(server, _model(server, "openai/o4-mini", ("1.10", "4.40"), flex=("0.55", "2.20")))
    with Client(config, ledger=ledger, budget_store=MemoryBudgetStore()) as client:
        resp = client.chat.completions.create(messages=EASY, deferrable=True)
        plain = client.chat.completions.create(messages=EASY)
    assert server.calls[0]["service_tier"] == "flex" and "service_tier" not in server.calls[1]
    info = resp.costroute
    assert info.service_tier == "flex" and plain.costroute.service_tier == "default"
    assert info.cost_usd == (1000 * Decimal("0.55") + 10 * Decimal("2.20")) / 1_000_000
    assert plain.costroute.cost_usd == 2 * info.cost_usd
    flex_record, plain_record = ledger.records()
    assert flex_record.input_per_mtok == Decimal("0.55") and plain_record.input_per_mtok == Decimal("1.10")
    assert flex_record.service_tier == "flex" and plain_record.service_tier == "default"


def test_routing_ranks_candidates_at_their_flex_price(server, ledger) -> None:
    cheap_no_flex = _model(server, "openai/steady", ("0.80", "3.20"))
    flex_cheaper = _model(server, "openai/o4-mini", ("1.10", "4.40"), flex=("0.55", "2.20"))
    config = _config(server, cheap_no_flex, flex_cheaper)
    with Client(config, ledger=ledger) as client:
        assert client.route(EASY).model == "openai/steady"
        deferred = client.route(EASY, deferrable=True)
        assert deferred.model == "openai/o4-mini" and deferred.service_tier == "flex"
    with Client({**config, "policies": {"default": {"deferrable": True}}}, ledger=ledger) as client:
        assert client.route(EASY).model == "openai/o4-mini"  # the policy asks for it


def test_a_model_without_flex_is_asked_at_the_default_tier(server, ledger) -> None:
    server.script("steady", answer=ANSWER)
    with Client(_config(server, _model(server, "openai/steady", ("0.80", "3.20"))), ledger=ledger) as client:
        resp = client.chat.completions.create(messages=EASY, deferrable=True)
    assert "service_tier" not in server.calls[0] and resp.costroute.service_tier == "default"


def test_a_flex_refusal_is_asked_again_at_once_at_the_default_tier(server, ledger) -> None:
    server.script("o4-mini", answer=ANSWER, flex_refusals=1)
    waits: list[float] = []
    config = _config(server, _model(server, "openai/o4-mini", ("1.10", "4.40"), flex=("0.55", "2.20")))
    store = MemoryBudgetStore()
    with Client(config, ledger=ledger, budget_store=store, sleep=waits.append) as client:
        resp = client.chat.completions.create(messages=EASY, deferrable=True)
        (state,) = client.budgets.snapshot() if client.budgets else ()
    assert [c.get("service_tier") for c in server.calls] == ["flex", None] and waits == []
    assert resp.costroute.service_tier == "default" and resp.costroute.attempts == 2
    refused, served = ledger.records()
    assert refused.status == "error" and refused.cost_usd == 0 and not refused.estimated  # not billed
    assert served.status == "ok" and served.input_per_mtok == Decimal("1.10")
    assert state.spent == served.cost_usd and state.reserved == 0


def test_a_policy_may_wait_for_flex_instead(server, ledger) -> None:
    server.script("o4-mini", answer=ANSWER, flex_refusals=1)
    waits: list[float] = []
    config = _config(server, _model(server, "openai/o4-mini", ("1.10", "4.40"), flex=("0.55", "2.20")),
                     on_flex_refusal="wait")
    with Client(config, ledger=ledger, sleep=waits.append) as client:
        resp = client.chat.completions.create(messages=EASY, deferrable=True)
    assert [c.get("service_tier") for c in server.calls] == ["flex", "flex"] and len(waits) == 1
    assert resp.costroute.service_tier == "flex"


def test_flex_refusals_beyond_the_attempt_bounds_fail_as_rate_limits(server, ledger) -> None:
    server.script("o4-mini", answer=ANSWER, flex_refusals=5)
    config = _config(server, _model(server, "openai/o4-mini", ("1.10", "4.40"), flex=("0.55", "2.20")),
                     on_flex_refusal="wait", retry={"attempts_per_model": 2, "max_attempts": 2, "backoff_s": 0})
    with Client(config, ledger=ledger, sleep=lambda s: None) as client, pytest.raises(RateLimitError) as caught:
        client.chat.completions.create(messages=EASY, deferrable=True)
    assert caught.value.code == "resource_unavailable" and len(server.calls) == 2
