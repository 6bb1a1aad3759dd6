"""The money invariant across processes: 4 application processes x 8 threads, 20 seeds, one SQLite
ledger and one budget store (SQLite or a real Redis), against the loopback fake. Whatever the mix
(``n > 1``, image parts, timeouts, abandoned streams, refusals), at the end: nothing is left
reserved, the counter equals the ledger, spend stays within the limit, every call the fake
received is booked and none at $0."""

from __future__ import annotations

import multiprocessing
from decimal import Decimal
from pathlib import Path

import pytest

from costroute import Client
from costroute.spend import SQLiteLedger
from costroute.testing import FakeOpenAIServer, Reply

from . import _money_workers as w
from .test_money import _image_message, _png

LIMIT = "0.05"


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_four_processes_twenty_seeds_never_overspend(kind: str, tmp_path: Path,
                                                     request: pytest.FixtureRequest) -> None:
    ledger_path = str(tmp_path / "ledger.sqlite3")
    store = ({"backend": "sqlite", "path": str(tmp_path / "budgets.sqlite3")} if kind == "sqlite"
             else {"backend": "redis", "url": request.getfixturevalue("redis_url")})
    with FakeOpenAIServer() as server:
        server.script("cheap", answer=Reply("word " * 100))  # every answer runs to the cap
        server.script("slow", latency_s=0.5)
        server.script("gpt-4o-mini", answer=Reply("A cat.", prompt_tokens=25_520, completion_tokens=3))
        cfg = w.config(server.base_url, ledger_path, store, LIMIT)
        Client(cfg).close()  # the schemas exist before the race
        ctx = multiprocessing.get_context("spawn")
        image = _image_message(_png(2048, 2048))
        procs = [ctx.Process(target=w.process_main, args=(cfg, image, list(range(p, 20, 4)), 8))
                 for p in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(240)
        assert [p.exitcode for p in procs] == [0, 0, 0, 0]
        calls = len(server.calls)
    ledger = SQLiteLedger(ledger_path)
    records = ledger.records()
    ledger.close()
    with Client(cfg) as client:
        assert client.budgets is not None
        (state,) = client.budgets.snapshot()
    booked = sum((r.cost_usd for r in records), Decimal(0))
    assert state.reserved == 0
    assert state.spent == booked
    assert 0 < booked <= Decimal(LIMIT)
    assert len(records) == calls  # every call the provider received is booked once
    assert all(r.cost_usd > 0 for r in records)  # timeouts and abandoned streams included
    assert {r.status for r in records} >= {"ok", "error", "cancelled"}
