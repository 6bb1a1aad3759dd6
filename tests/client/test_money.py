"""Every dollar a provider may bill is reserved before the call and booked after it, whatever fails.

The loopback fake counts what it was sent; budgets and ledgers are real (memory and SQLite here;
the invariant tests in ``tests/spend`` add processes, Redis and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import base64
import struct
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from costroute import (
    AsyncClient,
    BudgetExceeded,
    Client,
    LedgerUnavailable,
    ProviderConnectionError,
    ProviderTimeoutError,
    RequestValidationError,
)
from costroute.spend import MemoryBudgetStore, MemoryLedger, SpendRecord
from costroute.testing import FakeOpenAIServer, Reply

from .conftest import EASY


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def _config(server: FakeOpenAIServer, *budgets: dict[str, Any], name: str = "openai/cheap",
            price: tuple[str, str] = ("1", "2"), **policy: Any) -> dict[str, Any]:
    return {
        "models": [{"name": name, "api_base": server.base_url, "api_key": "sk-loop", "quality": 0.5,
                    "price": {"input_per_mtok": price[0], "output_per_mtok": price[1]}}],
        "policies": {"default": {"max_output_tokens": 100, "retry": {"attempts_per_model": 1}, **policy}},
        "budgets": list(budgets),
    }


def _budget(limit: str, on_exceed: str = "block") -> dict[str, Any]:
    return {"name": "b", "limit_usd": limit, "period": "day", "on_exceed": on_exceed}


def _books(client: Client | AsyncClient, ledger: MemoryLedger) -> tuple[Decimal, Decimal]:
    """(spent, reserved) of the one budget, after checking the counter equals the ledger."""
    assert client.budgets is not None
    (state,) = client.budgets.snapshot()
    assert sum((r.cost_usd for r in ledger.records()), Decimal(0)) == state.spent
    return state.spent, state.reserved


# -- the reservation is an upper bound ------------------------------------------------------------

def test_n_answers_reserve_n_times_the_cap(server, ledger) -> None:
    # one answer: (prompt ~15 + 100 x 2) / 1e6 ~ $0.00022; eight answers ~ $0.0016: over $0.001
    client = Client(_config(server, _budget("0.001")), ledger=ledger, budget_store=MemoryBudgetStore())
    with pytest.raises(BudgetExceeded):
        client.chat.completions.create(messages=EASY, n=8)
    assert server.calls == [] and ledger.records() == []
    resp = client.chat.completions.create(messages=EASY, n=2)
    assert len(resp.choices) == 2 and resp.costroute.usage.output_tokens == 2 * resp.costroute.usage.output_tokens // 2
    client.close()


def test_64_threads_of_n_answers_never_overspend(server) -> None:
    server.script("cheap", answer=Reply("word " * 100))  # every answer runs to the cap
    ledger, limit = MemoryLedger(), Decimal("0.02")
    client = Client(_config(server, _budget(str(limit))), ledger=ledger, budget_store=MemoryBudgetStore())
    refused: list[BudgetExceeded] = []

    def work() -> None:
        for _ in range(4):
            try:
                client.chat.completions.create(messages=EASY, n=8)
            except BudgetExceeded as exc:
                refused.append(exc)

    threads = [threading.Thread(target=work) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent, reserved = _books(client, ledger)
    assert reserved == 0 and 0 < spent <= limit
    assert len(ledger.records()) + len(refused) == 256 and len(server.calls) == len(ledger.records())
    assert all(r.output_tokens == 800 for r in ledger.records())  # eight answers billed, eight reserved
    client.close()


def _png(width: int, height: int) -> str:
    ihdr = b"\x00\x00\x00\x0dIHDR" + struct.pack(">II", width, height) + b"\x08\x02\x00\x00\x00"
    header = b"\x89PNG\r\n\x1a\n" + ihdr
    return "data:image/png;base64," + base64.b64encode(header + b"\x00" * 64).decode()


def _image_message(url: str, detail: str = "high") -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": "What is in this picture?"},
                                         {"type": "image_url", "image_url": {"url": url, "detail": detail}}]}]


def test_an_image_reserves_what_its_provider_bills_for_it(server, ledger) -> None:
    # gpt-4o-mini bills a 2048x2048 high-detail image 2833 + 4 tiles x 5667 = 25,501 tokens
    server.script("gpt-4o-mini", answer=Reply("A cat.", prompt_tokens=25_520, completion_tokens=3))
    one = (25_520 * Decimal("0.15") + 3 * Decimal("0.60")) / 1_000_000
    budget = _budget(str((one * Decimal("1.5")).quantize(Decimal("0.000001"))))
    client = Client(_config(server, budget, name="openai/gpt-4o-mini", price=("0.15", "0.60")), ledger=ledger,
                    budget_store=MemoryBudgetStore())
    messages = _image_message(_png(2048, 2048))
    plan, _ = client._plan({"messages": messages})
    assert client._engine.prompt_bound(plan, "openai/gpt-4o-mini") >= 25_501
    client.chat.completions.create(messages=messages)
    with pytest.raises(BudgetExceeded):  # a flat 765-token estimate would have let this one through
        client.chat.completions.create(messages=messages)
    assert len(server.calls) == 1
    spent, reserved = _books(client, ledger)
    assert spent == one.quantize(Decimal("0.000001")) and reserved == 0
    client.close()


def test_low_detail_and_small_images_reserve_little(server) -> None:
    client = Client(_config(server, name="openai/gpt-4o"), ledger=MemoryLedger())
    engine = client._engine
    low, _ = client._plan({"messages": _image_message(_png(4000, 3000), detail="low")})
    small, _ = client._plan({"messages": _image_message(_png(500, 400))})
    remote, _ = client._plan({"messages": _image_message("https://example.com/cat.png")})
    text = engine.plan({"messages": [{"role": "user", "content": "What is in this picture?"}]}).needs.input_tokens
    assert engine.prompt_bound(low, "openai/gpt-4o") - text <= 85 + 10
    assert engine.prompt_bound(small, "openai/gpt-4o") - text <= 85 + 170 + 10  # one tile
    assert engine.prompt_bound(remote, "openai/gpt-4o") - text >= 85 + 170 * 8  # size unknown: most tiles
    client.close()


def test_an_answer_beyond_its_reservation_reserves_the_difference(server, ledger) -> None:
    # a provider with no published image rule billing more than costroute's bound for it
    server.script("cheap", answer=Reply("A cat.", prompt_tokens=40_000, completion_tokens=3))
    client = Client(_config(server, _budget("1")), ledger=ledger, budget_store=MemoryBudgetStore())
    messages = _image_message("https://example.com/cat.png")
    pinned = client.chat.completions.create(model="openai/cheap", messages=messages)
    assert pinned.costroute.cost_usd == (40_000 * Decimal(1) + 3 * Decimal(2)) / 1_000_000
    spent, reserved = _books(client, ledger)
    assert spent == Decimal("0.040006") and reserved == 0
    client.close()


def test_a_top_up_adds_up_to_the_record_to_the_micro_dollar(server, ledger) -> None:
    # $0.0038352 beyond a small reservation: settled as two parts, each rounded on its own, the
    # counter read $0.000001 more than the ledger's $0.003835
    server.script("cheap", answer=Reply("A cat.", prompt_tokens=25_520, completion_tokens=3))
    client = Client(_config(server, _budget("1"), price=("0.15", "0.60")), ledger=ledger,
                    budget_store=MemoryBudgetStore())
    for _ in range(3):
        client.chat.completions.create(messages=[{"role": "user", "content": "Say hi."}], n=4)
    spent, reserved = _books(client, ledger)
    assert spent == 3 * Decimal("0.003835") and reserved == 0
    client.close()


def test_an_answer_the_budget_has_no_room_for_is_booked_but_not_delivered(server, ledger) -> None:
    server.script("cheap", answer=Reply("A cat.", prompt_tokens=40_000, completion_tokens=3))
    config = {**_config(server, _budget("0.03")), "cache": {"backend": "memory"}}
    client = Client(config, ledger=ledger, budget_store=MemoryBudgetStore())
    messages = _image_message("https://example.com/cat.png")
    with pytest.raises(BudgetExceeded) as refused:
        client.chat.completions.create(messages=messages, temperature=0)
    assert "not delivered" in str(refused.value) and refused.value.request_id
    [record] = ledger.records()
    assert record.status == "ok" and record.cost_usd == Decimal("0.040006")
    assert record.request_id == refused.value.request_id
    spent, reserved = _books(client, ledger)
    assert spent == Decimal("0.040006") and reserved == 0  # the counter tells the truth: over the limit
    again = client.chat.completions.create(messages=messages, temperature=0)  # paid once, kept: a free hit
    assert again.costroute.cache_hit and again.choices[0].message.content == "A cat." and len(server.calls) == 1
    client.close()


# -- work the provider may have done is never $0 ----------------------------------------------------

def test_timeouts_are_booked_as_estimated_and_every_attempt_reserves(server, ledger) -> None:
    server.script("cheap", latency_s=1.0)
    client = Client(_config(server, _budget("1"), retry={"attempts_per_model": 2, "backoff_s": 0}),
                    ledger=ledger, budget_store=MemoryBudgetStore(), sleep=lambda s: None)
    with pytest.raises(ProviderTimeoutError) as caught:
        client.chat.completions.create(messages=EASY, timeout=0.2)  # the caller's timeout, not the model's 60 s
    records = ledger.records()
    assert len(records) == 2 and len(server.calls) == 2
    worst = client._engine.worst_case(client._plan({"messages": EASY})[0], "openai/cheap")
    for r in records:
        assert r.status == "error" and r.estimated and r.output_tokens == 100 and r.latency_ms < 900
        assert r.cost_usd == worst.quantize(Decimal("0.000001"))
        assert r.request_id == caught.value.request_id
    spent, reserved = _books(client, ledger)
    assert spent == 2 * worst.quantize(Decimal("0.000001")) and reserved == 0
    client.close()


def test_a_connection_that_was_refused_costs_nothing(ledger) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {"models": [{"name": "openai/cheap", "api_base": f"http://127.0.0.1:{port}/v1", "api_key": "sk-x",
                          "quality": 0.5, "price": {"input_per_mtok": 1, "output_per_mtok": 2}}],
              "policies": {"default": {"retry": {"attempts_per_model": 1}}}}
    with Client(config, ledger=ledger) as client, pytest.raises(ProviderConnectionError):
        client.chat.completions.create(messages=EASY)
    [record] = ledger.records()
    assert record.status == "error" and record.cost_usd == 0 and not record.estimated


async def test_a_cancelled_request_is_booked_as_estimated_and_settled(server, ledger) -> None:
    server.script("cheap", latency_s=1.0)
    client = AsyncClient(_config(server, _budget("1")), ledger=ledger, budget_store=MemoryBudgetStore())
    task = asyncio.create_task(client.chat.completions.create(messages=EASY))
    while not server.calls:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [record] = ledger.records()
    assert record.status == "cancelled" and record.estimated and record.cost_usd > 0
    spent, reserved = _books(client, ledger)
    assert spent == record.cost_usd and reserved == 0
    await client.aclose()


# -- bad input: a clear error before any call, nothing recorded --------------------------------------

_DEEP: Any = "x"
for _ in range(5000):
    _DEEP = [_DEEP]


@pytest.mark.parametrize(("kwargs", "where"), [
    ({"messages": [{"role": "user", "content": "caf\udce9"}]}, "messages[0].content"),
    ({"messages": EASY, "tags": {"user": "\ud800"}}, "tags['user']"),
    ({"messages": EASY, "logit_bias": {"50256": float("nan")}}, "logit_bias['50256']"),
    ({"messages": EASY, "extra_body": {"foo": object()}}, "extra_body.foo"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "x": _DEEP}]}]},
     "messages[0].content[0].x"),
    ({"messages": EASY, "frobnicate": 1}, "frobnicate"),
    ({"messages": EASY, "timeout": -1}, "timeout"),
], ids=["surrogate", "tag-surrogate", "nan-logit-bias", "object-in-extra-body", "deep", "unknown", "timeout"])
def test_bad_input_is_refused_by_name_before_any_call(server, ledger, kwargs: dict[str, Any], where: str) -> None:
    with Client(_config(server), ledger=ledger) as client:
        with pytest.raises(RequestValidationError) as caught:
            client.chat.completions.create(**kwargs)
        assert caught.value.location.startswith(where) and caught.value.request_id
    assert server.calls == [] and ledger.records() == []


def test_provider_fields_travel_in_extra_body(server, ledger) -> None:
    with Client(_config(server), ledger=ledger) as client:
        client.chat.completions.create(messages=EASY, extra_body={"top_k": 5, "safe_prompt": True})
    assert server.calls[0]["top_k"] == 5 and server.calls[0]["safe_prompt"] is True


# -- ledger down means no spending --------------------------------------------------------------------

class _DownLedger(MemoryLedger):
    """A ledger that cannot take records (for the client's side of the rule; the real backends'
    outages are tested in tests/spend)."""

    def __init__(self, *, ready: bool, append: bool) -> None:
        super().__init__()
        self._ready, self._append = ready, append

    def ready(self) -> None:
        if not self._ready:
            raise LedgerUnavailable("ledger down")

    async def aready(self) -> None:
        self.ready()

    def append_many(self, records: Any) -> None:
        if not self._append:
            raise LedgerUnavailable("ledger down")
        super().append_many(records)


def test_no_provider_is_called_while_the_ledger_cannot_write(server) -> None:
    with Client(_config(server), ledger=_DownLedger(ready=False, append=False)) as client, \
            pytest.raises(LedgerUnavailable) as caught:
        client.chat.completions.create(messages=EASY)
    assert server.calls == [] and caught.value.request_id


def test_a_paid_answer_is_delivered_when_its_record_cannot_be_written(server, caplog) -> None:
    seen: list[SpendRecord] = []
    with Client(_config(server), ledger=_DownLedger(ready=True, append=False),
                on_record=lambda info, record: seen.append(record)) as client:
        resp = client.chat.completions.create(messages=EASY)
    assert resp.choices[0].message.content and resp.costroute.cost_usd > 0
    assert "could not be booked" in caplog.text and resp.costroute.request_id in caplog.text
    assert [r.request_id for r in seen] == [resp.costroute.request_id]
