"""client.batches on Anthropic's Message Batches (the fake's /v1/messages/batches)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costroute import Client
from costroute.testing import FakeOpenAIServer, Reply

from ._helpers import requests

KEY = "sk-ant-batch-secret-0123"
HAIKU = "anthropic/claude-haiku-4-5"


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as s:
        s.script("claude-haiku-4-5", answer=Reply("ok", prompt_tokens=1000, completion_tokens=40))
        s.script("gpt-4o-mini", answer=Reply("ok", prompt_tokens=1000, completion_tokens=40))
        yield s


def _config(server: FakeOpenAIServer, tmp: Path, *, openai: bool = False) -> dict[str, Any]:
    models: list[dict[str, Any]] = [{"name": HAIKU, "api_base": server.base_url.removesuffix("/v1"),
                                     "api_key": KEY, "quality": 0.7}]
    if openai:
        models.append({"name": "openai/gpt-4o-mini", "api_base": server.base_url, "api_key": KEY, "quality": 0.6})
    return {
        "models": models,
        "policies": {"default": {"max_output_tokens": 100, "retry": {"attempts_per_model": 1}}},
        "budgets": [{"name": "all", "limit_usd": "1", "period": "day", "on_exceed": "block"}],
        "ledger": {"backend": "sqlite", "path": os.path.join(tmp, "ledger.db")},
        "budget_store": {"backend": "sqlite", "path": os.path.join(tmp, "budgets.db")},
    }


def _state(client: Client) -> tuple[Decimal, Decimal]:
    assert client.budgets is not None
    (only,) = client.budgets.snapshot()
    return only.spent, only.reserved


def test_golden_anthropic_batch_price_with_cache_tokens(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.batches.anthropic.cache_usage = {"cache_read_input_tokens": 2000, "cache_creation_input_tokens": 400}
    client = Client(_config(server, tmp_path))
    reqs = requests(3)
    reqs[0]["messages"] = [{"role": "system", "content": "Be brief."}, *reqs[0]["messages"]]
    batch = client.batches.create(requests=reqs, tags={"job": "nightly"})
    assert batch.status == "in_progress" and batch.counts["held"] == 3 and len(batch.jobs) == 1  # as Anthropic says
    sent = server.batches.anthropic.submitted
    assert [r["custom_id"] for r in sent] == ["q0", "q1", "q2"]
    assert sent[0]["params"]["model"] == "claude-haiku-4-5" and sent[0]["params"]["max_tokens"] == 50
    assert sent[0]["params"]["system"] == [{"type": "text", "text": "Be brief."}]
    assert all(m["role"] != "system" for m in sent[0]["params"]["messages"])
    headers = server.batches.anthropic.headers[0]
    assert headers["x-api-key"] == KEY and headers["anthropic-version"] == "2023-06-01"
    done = client.batches.wait(batch.id, poll_s=0.01, timeout_s=10)
    assert done.status == "completed" and done.counts["booked"] == 3 and done.reserved_usd == 0
    # claude-haiku-4-5 at the batch sheet (half of $1 / $5; cache read $0.05, 5-minute write $0.625):
    expected = (1000 * Decimal("0.5") + 40 * Decimal("2.5") + 2000 * Decimal("0.05")
                + 400 * Decimal("0.625")) / 1_000_000
    assert expected == Decimal("0.00095")
    records = client.spend.records()
    assert len(records) == 3 and {(r.service_tier, r.cost_usd, r.batch_id) for r in records} == {
        ("batch", expected, batch.id)}
    assert {r.model for r in records} == {HAIKU} and {r.tags.get("job") for r in records} == {"nightly"}
    items = list(client.batches.results(batch.id))
    assert [i.custom_id for i in items] == ["q0", "q1", "q2"]
    assert items[0].response.choices[0].message.content == "ok"
    assert items[0].response.costroute.cost_usd == expected and items[0].response.costroute.service_tier == "batch"
    assert _state(client) == (3 * expected, 0)
    assert server.calls == []  # nothing went to the live Messages endpoint


def test_partial_failures_and_expiry_release_and_recollect_books_once(server: FakeOpenAIServer,
                                                                        tmp_path: Path) -> None:
    server.batches.configure(complete_after_polls=2, fail_ids={"q1"}, expire_after_items=3)
    client = Client(_config(server, tmp_path))
    batch = client.batches.create(requests=requests(4))
    assert _state(client)[1] > 0
    assert client.batches.retrieve(batch.id).status == "in_progress"
    for _ in range(3):
        client.batches.retrieve(batch.id)
        list(client.batches.results(batch.id))
    view = client.batches.retrieve(batch.id)
    assert view.status == "expired" and view.counts == {"held": 0, "booked": 2, "failed": 1, "released": 1}
    records = client.spend.records()
    assert sorted(r.request_id for r in records) == [f"{batch.id}-0", f"{batch.id}-2"]
    spent, reserved = _state(client)
    assert reserved == 0 and spent == sum(r.cost_usd for r in records) > 0
    errors = {i.custom_id: i.error for i in client.batches.results(batch.id)}
    assert errors["q0"] is None and "scripted failure" in str(errors["q1"]) and "expired" in str(errors["q3"])

    again = Client(_config(server, tmp_path))  # another client on the same ledger collects nothing twice
    again.batches.retrieve(batch.id)
    assert len(again.spend.records()) == 2


def test_cancel_releases_every_hold(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.batches.configure(complete_after_polls=100)
    client = Client(_config(server, tmp_path))
    batch = client.batches.create(requests=requests(3))
    assert _state(client)[1] > 0
    cancelled = client.batches.cancel(batch.id)
    assert cancelled.status == "cancelled" and cancelled.counts["released"] == 3
    assert _state(client) == (0, 0) and client.spend.records() == []
    assert ("POST", f"/v1/messages/batches/{batch.jobs[0]}/cancel") in server.batches.requests


def test_openai_and_anthropic_items_in_one_batch_are_two_jobs(server: FakeOpenAIServer, tmp_path: Path) -> None:
    client = Client(_config(server, tmp_path, openai=True))
    reqs = requests(4)
    for i, r in enumerate(reqs):
        r["model"] = HAIKU if i % 2 else "openai/gpt-4o-mini"
    batch = client.batches.create(requests=reqs)
    assert len(batch.jobs) == 2
    assert [r["custom_id"] for r in server.batches.anthropic.submitted] == ["q1", "q3"]
    assert [line["custom_id"] for line in server.batches.uploads] == ["q0", "q2"]
    done = client.batches.wait(batch.id, poll_s=0.01, timeout_s=10)
    assert done.status == "completed" and done.counts["booked"] == 4
    assert sorted(r.model for r in client.spend.records()) == ["anthropic/claude-haiku-4-5"] * 2 + [
        "openai/gpt-4o-mini"] * 2


def test_secret_never_in_errors_or_state(server: FakeOpenAIServer, tmp_path: Path) -> None:
    cfg = _config(server, tmp_path)
    cfg["models"][0]["api_base"] = "http://127.0.0.1:9"  # nothing listens: the job is not submitted
    client = Client(cfg)
    batch = client.batches.create(requests=requests(2))
    assert batch.status == "failed" and batch.counts["failed"] == 2 and _state(client) == (0, 0)
    errors = [i.error for i in client.batches.results(batch.id)]
    assert all(e and "not submitted" in e and KEY not in e for e in errors)
