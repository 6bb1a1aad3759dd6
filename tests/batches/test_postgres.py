"""client.batches on a PostgreSQL ledger (a real server from tests/services.py): state, exactly-once
booking with concurrent collectors on separate connections, holds released."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest

from costroute import Client
from costroute.testing import FakeOpenAIServer, Reply

from ._helpers import config, requests

pytestmark = pytest.mark.postgres


def test_postgres_ledger_books_each_item_once(postgres_dsn: str, tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        server.script("gpt-4o-mini", answer=Reply("ok", prompt_tokens=1000, completion_tokens=40))
        server.batches.configure(complete_after_polls=2, fail_ids={"q3"})
        cfg = {**config(server.base_url, str(tmp_path)), "ledger": {"backend": "postgres", "dsn": postgres_dsn}}
        clients = [Client(cfg) for _ in range(4)]
        submitter = clients.pop()
        batch = submitter.batches.create(requests=requests(5))
        errors: list[BaseException] = []
        try:
            _collect_and_check(clients, batch.id, errors)
        finally:
            for c in [*clients, submitter]:
                c._engine.ledger.close()


def _collect_and_check(clients: list[Client], batch_id: str, errors: list[BaseException]) -> None:
    def collect(client: Client) -> None:
        try:
            for _ in range(3):
                client.batches.retrieve(batch_id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=collect, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    final = clients[0].batches.retrieve(batch_id)
    assert final.status == "completed" and final.counts == {"held": 0, "booked": 4, "failed": 1, "released": 0}
    records = clients[0].spend.records()
    assert sorted(r.request_id for r in records) == sorted(f"{batch_id}-{i}" for i in (0, 1, 2, 4))
    assert {(r.service_tier, r.cost_usd, r.batch_id) for r in records} == {("batch", Decimal("0.000087"), batch_id)}
    assert clients[0].budgets is not None
    (state,) = clients[0].budgets.snapshot()
    assert state.reserved == 0 and state.spent == 4 * Decimal("0.000087")
    assert [b.id for b in clients[0].batches.list()] == [batch_id]
