"""The public surface of costroute.spend: complete sorted __all__, light import, exports."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from decimal import Decimal

import costroute.spend as spend
from costroute.spend import (
    Ledger,
    MemoryLedger,
    SpendView,
    export_csv,
    export_jsonl,
)

from .conftest import make_record


def test_all_is_sorted_and_complete() -> None:
    assert spend.__all__ == sorted(spend.__all__)
    public = {n for n in vars(spend) if not n.startswith("_") and n != "annotations"}
    assert public == set(spend.__all__)
    for name in spend.__all__:
        assert getattr(spend, name) is not None


def test_import_is_light() -> None:
    code = (
        "import sys, costroute.spend; "
        "print(sorted(m for m in ('redis', 'psycopg', 'litellm', 'tiktoken') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_memory_ledger_is_a_ledger() -> None:
    assert isinstance(MemoryLedger(), Ledger)


def test_exports_round_trip() -> None:
    recs = [
        make_record(1, cost_usd=Decimal("0.000155"), tags={"user": "a,b\"c"}),
        make_record(2, input_per_mtok=Decimal("0.15"), prompt_text=None),
    ]
    buf = io.StringIO()
    assert export_csv(recs, buf) == 2
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert rows[0]["cost_usd"] == "0.000155" and json.loads(rows[0]["tags"]) == {"user": "a,b\"c"}
    assert rows[1]["input_per_mtok"] == "0.15" and rows[0]["ts"].endswith("+00:00")
    buf = io.StringIO()
    assert export_jsonl(recs, buf) == 2
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert lines[0]["cost_usd"] == "0.000155" and lines[0]["tags"] == {"user": "a,b\"c"}
    assert lines[1]["prompt_text"] is None and lines[1]["status"] == "ok"


def test_spend_view() -> None:
    ledger = MemoryLedger()
    ledger.append_many([make_record(1, model="a"), make_record(2, model="b",
                                                                cost_usd=Decimal("0.5"))])
    view = SpendView(ledger)
    assert view.total() == Decimal("0.500123")
    assert view.total(model="b") == Decimal("0.5")
    assert SpendView(MemoryLedger()).total() == Decimal(0)
    assert [r.group["model"] for r in view.summary(group_by=["model"])] == ["a", "b"]
    assert len(view.records(limit=1)) == 1
    buf = io.StringIO()
    assert view.export(buf, format="jsonl", model="a") == 1
    buf = io.StringIO()
    assert view.export(buf) == 2 and buf.getvalue().startswith("request_id,")
