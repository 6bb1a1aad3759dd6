"""client.batches against the fake: batch prices, durable state, holds, exactly-once booking."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costroute import AsyncClient, BudgetExceeded, Client, RequestValidationError
from costroute.testing import FakeOpenAIServer, Reply

from ._helpers import EASY, collect, config, requests, submit_and_die

# gpt-4o-mini: $0.15 / $0.60 per Mtok at the default tier; the Batch API is half of both.
BATCH_IN, BATCH_OUT = Decimal("0.075"), Decimal("0.30")


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as s:
        s.script("gpt-4o-mini", answer=Reply("ok", prompt_tokens=1000, completion_tokens=40))
        yield s


def _state(client: Client) -> tuple[Decimal, Decimal]:
    assert client.budgets is not None
    (only,) = client.budgets.snapshot()
    return only.spent, only.reserved


def test_golden_batch_price_one_record_per_item(server: FakeOpenAIServer, tmp_path: Path) -> None:
    client = Client(config(server.base_url, str(tmp_path)))
    batch = client.batches.create(requests=requests(3), tags={"job": "nightly"})
    assert batch.status == "submitted" and batch.counts["held"] == 3
    # routed at batch prices to the batch-capable model (the cheaper one has no batch price)
    assert {line["body"]["model"] for line in server.batches.uploads} == {"gpt-4o-mini"}
    done = client.batches.wait(batch.id, poll_s=0.01, timeout_s=10)
    assert done.status == "completed" and done.counts["booked"] == 3 and done.reserved_usd == 0
    expected = (1000 * BATCH_IN + 40 * BATCH_OUT) / 1_000_000  # $0.000087, hand-computed
    assert expected == Decimal("0.000087")
    items = list(client.batches.results(batch.id))
    assert [i.custom_id for i in items] == ["q0", "q1", "q2"] and all(i.error is None for i in items)
    assert all(i.response.costroute.cost_usd == expected for i in items)
    assert all(i.response.costroute.service_tier == "batch" for i in items)
    assert items[0].response.choices[0].message.content == "ok"
    records = client.spend.records()
    assert len(records) == 3 and {r.batch_id for r in records} == {batch.id}
    assert {(r.service_tier, r.cost_usd, r.tags.get("job")) for r in records} == {("batch", expected, "nightly")}
    assert _state(client) == (3 * expected, 0)
    assert server.calls == []  # nothing went to the live endpoint
    assert [b.id for b in client.batches.list()] == [batch.id]


def test_partial_failures_release_and_recollect_books_nothing_twice(server: FakeOpenAIServer,
                                                                   tmp_path: Path) -> None:
    server.batches.configure(complete_after_polls=2, fail_ids={"q1"})
    client = Client(config(server.base_url, str(tmp_path)))
    batch = client.batches.create(requests=requests(3))
    _, reserved = _state(client)
    assert reserved > 0
    for _ in range(4):
        client.batches.retrieve(batch.id)
        list(client.batches.results(batch.id))
    assert len(client.spend.records()) == 2
    spent, reserved = _state(client)
    assert reserved == 0 and spent == sum(r.cost_usd for r in client.spend.records())
    errors = {i.custom_id: i.error for i in client.batches.results(batch.id)}
    assert errors["q0"] is None and "scripted failure" in str(errors["q1"])


def test_all_or_nothing_reservation(server: FakeOpenAIServer, tmp_path: Path) -> None:
    # each item's worst case: 1000-ish prompt tokens... here ~13 prompt + 50 out at batch prices
    client = Client(config(server.base_url, str(tmp_path), limit="0.00005"))
    with pytest.raises(BudgetExceeded):
        client.batches.create(requests=requests(5))
    assert _state(client) == (0, 0) and server.batches.uploads == [] and client.batches.list() == []


def test_bad_input_names_the_place_before_money(server: FakeOpenAIServer, tmp_path: Path) -> None:
    client = Client(config(server.base_url, str(tmp_path)))
    bad = requests(2)
    bad[1]["custom_id"] = "q0"
    with pytest.raises(RequestValidationError, match="twice") as info:
        client.batches.create(requests=bad)
    assert info.value.location == "requests[1].custom_id"
    with pytest.raises(RequestValidationError) as info:
        client.batches.create(requests=[{"custom_id": "a", "messages": "nope"}])
    assert str(info.value.location).startswith("requests[0]")
    assert _state(client) == (0, 0) and server.batches.uploads == []


def test_cancel_and_expiry_release_holds(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.batches.configure(complete_after_polls=100)
    client = Client(config(server.base_url, str(tmp_path)))
    batch = client.batches.create(requests=requests(3))
    assert _state(client)[1] > 0
    cancelled = client.batches.cancel(batch.id)
    assert cancelled.status == "cancelled" and cancelled.counts["released"] == 3
    assert _state(client) == (0, 0) and client.spend.records() == []

    server.batches.configure(expire_after_items=2)
    batch = client.batches.create(requests=requests(4, prefix="e"))
    expired = client.batches.retrieve(batch.id)
    assert expired.status == "expired" and expired.counts == {"held": 0, "booked": 2, "failed": 0, "released": 2}
    spent, reserved = _state(client)
    assert reserved == 0 and spent == sum(r.cost_usd for r in client.spend.records()) and spent > 0


def test_killed_after_submission_collected_by_other_processes(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.batches.configure(complete_after_polls=3)
    cfg = config(server.base_url, str(tmp_path))
    ctx = multiprocessing.get_context("spawn")
    out = tmp_path / "batch-id"
    child = ctx.Process(target=submit_and_die, args=(cfg, 6, str(out)))
    child.start()
    child.join(150)
    assert child.exitcode == -9  # SIGKILL after submission
    batch_id = out.read_text()
    collectors = [ctx.Process(target=collect, args=(cfg, batch_id)) for _ in range(2)]
    for p in collectors:
        p.start()
    for p in collectors:
        p.join(150)
    assert [p.exitcode for p in collectors] == [0, 0]
    client = Client(cfg)
    client.batches.retrieve(batch_id)  # and once more here
    records = client.spend.records()
    assert sorted(r.request_id for r in records) == sorted(f"{batch_id}-{i}" for i in range(6))  # once each
    spent, reserved = _state(client)
    assert reserved == 0 and spent == sum(r.cost_usd for r in records)


# litellm's first live call in a process imports a module that warns about its own typing
@pytest.mark.filterwarnings("ignore:Items .* on TypedDict class .*ReadOnly:UserWarning")
def test_concurrent_batches_and_live_traffic_never_exceed_the_budget(server: FakeOpenAIServer,
                                                                     tmp_path: Path) -> None:
    server.script("gpt-4o-mini")  # usage the fake counts from the request: within the worst case
    limit = Decimal("0.0015")
    cfg = config(server.base_url, str(tmp_path), limit=str(limit))
    client = Client(cfg)
    request = [{"role": "user", "content": EASY.format("x")}]
    one = client._engine.worst_case(client._engine.plan({"messages": request, "max_tokens": 50},
                                                        service_tier="batch"), "openai/gpt-4o-mini")
    limit = one * 3 * 5  # room for five batches of three, or fewer with live calls (twice the price)
    client.close()
    client._engine.ledger.close()
    client = Client(config(server.base_url, str(tmp_path), limit=str(limit)))
    outcomes: list[str] = []
    ids: list[str] = []
    lock = threading.Lock()

    def batches(k: int) -> None:
        for j in range(4):
            try:
                b = client.batches.create(requests=requests(3, prefix=f"t{k}-{j}-"))
                with lock:
                    ids.append(b.id)
                    outcomes.append("batch")
            except BudgetExceeded:
                with lock:
                    outcomes.append("refused")

    def live() -> None:
        for _ in range(8):
            try:
                client.chat.completions.create(messages=[{"role": "user", "content": EASY.format("x")}],
                                               model="openai/gpt-4o-mini", max_tokens=50)
                with lock:
                    outcomes.append("live")
            except BudgetExceeded:
                with lock:
                    outcomes.append("refused")

    live_once = client.chat.completions.create(messages=request, model="openai/gpt-4o-mini", max_tokens=50)
    assert live_once.costroute.service_tier == "default"  # one live call in before the race (and litellm loaded)
    threads = [threading.Thread(target=batches, args=(k,)) for k in range(3)] + [threading.Thread(target=live)
                                                                               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for b in ids:
        client.batches.wait(b, poll_s=0.01, timeout_s=10)
    spent, reserved = _state(client)
    records = client.spend.records()
    assert "refused" in outcomes and "batch" in outcomes
    assert {r.service_tier for r in records} == {"batch", "default"}
    assert reserved == 0 and spent == sum(r.cost_usd for r in records) and spent <= limit
    client.close()
    client._engine.ledger.close()


def test_async_client_batches(server: FakeOpenAIServer, tmp_path: Path) -> None:
    async def main() -> list[Any]:
        async with AsyncClient(config(server.base_url, str(tmp_path))) as client:
            batch = await client.batches.create(requests=requests(2))
            done = await client.batches.wait(batch.id, poll_s=0.01, timeout_s=10)
            assert done.status == "completed"
            return await client.batches.results(batch.id)

    items = asyncio.run(main())
    assert [i.custom_id for i in items] == ["q0", "q1"] and items[0].response.costroute.service_tier == "batch"


def test_completed_items_go_into_the_response_cache(server: FakeOpenAIServer, tmp_path: Path) -> None:
    client = Client({**config(server.base_url, str(tmp_path)), "cache": {"backend": "memory"}})
    batch = client.batches.create(requests=[{"custom_id": "a", "messages": [{"role": "user", "content": "Hi."}],
                                             "max_tokens": 50, "temperature": 0}])
    client.batches.wait(batch.id, poll_s=0.01, timeout_s=10)
    again = client.chat.completions.create(messages=[{"role": "user", "content": "Hi."}], max_tokens=50,
                                           temperature=0)
    assert again.costroute.cache_hit and server.calls == []
