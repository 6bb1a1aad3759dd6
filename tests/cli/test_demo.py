"""``costroute demo``: the real client, litellm's real code path, a loopback fake provider."""

from __future__ import annotations

import json
from decimal import Decimal

from typer.testing import CliRunner

from costroute.cli import app
from costroute.demo import BASELINE, DEMO_KEY


def test_demo_json_report(runner: CliRunner) -> None:
    result = runner.invoke(app, ["demo", "--prompts", "40", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["requests"] == 40
    assert report["baseline_model"] == BASELINE
    spend, baseline = Decimal(report["spend_usd"]), Decimal(report["baseline_usd"])
    assert 0 < spend < baseline
    assert Decimal(report["saved_usd"]) == baseline - spend > 0
    assert report["savings_pct"] > 0 and report["savings_x"] > 1
    models = report["models"]
    assert len(models) >= 2  # the routing mix covers several models
    assert sum(m["requests"] for m in models) == 40
    assert sum(Decimal(m["cost_usd"]) for m in models) == spend
    assert sum(report["tiers"].values()) == 40 and len(report["tiers"]) >= 2
    assert report["p50_ms"] > 0 and report["p95_ms"] >= report["p50_ms"]
    assert DEMO_KEY not in result.output and "sk-" not in result.output


def test_demo_table(runner: CliRunner) -> None:
    result = runner.invoke(app, ["demo", "-n", "12"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for heading in ("Routing mix", "Where each kind of request went", "spend", "baseline", "saved", "latency p50"):
        assert heading in out
    assert f"every request on {BASELINE}" in out and "× cheaper" in out
    assert DEMO_KEY not in result.output and "sk-" not in result.output
