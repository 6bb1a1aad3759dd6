"""``costroute batch submit|status|results|cancel|list`` against the fake."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from costroute.cli import app
from costroute.testing import FakeOpenAIServer, Reply

from ._helpers import config, requests


def test_batch_cli_round_trip(tmp_path: Path) -> None:
    runner = CliRunner()
    with FakeOpenAIServer() as server:
        server.script("gpt-4o-mini", answer=Reply("fine", prompt_tokens=1000, completion_tokens=40))
        cfg = tmp_path / "costroute.json"
        cfg.write_text(json.dumps(config(server.base_url, str(tmp_path))))
        jsonl = tmp_path / "requests.jsonl"
        jsonl.write_text("".join(json.dumps(r) + "\n" for r in requests(2)))
        out = runner.invoke(app, ["batch", "submit", str(jsonl), "-c", str(cfg), "--tag", "job=cli", "--json"])
        assert out.exit_code == 0, out.output
        submitted = json.loads(out.output)
        assert submitted["status"] == "submitted" and submitted["counts"]["held"] == 2
        out = runner.invoke(app, ["batch", "status", submitted["id"], "-c", str(cfg), "--json"])
        assert out.exit_code == 0 and json.loads(out.output)["status"] == "completed"
        answers = tmp_path / "answers.jsonl"
        out = runner.invoke(app, ["batch", "results", submitted["id"], "-c", str(cfg), "-o", str(answers)])
        assert out.exit_code == 0, out.output
        rows = [json.loads(line) for line in answers.read_text().splitlines()]
        assert [(r["custom_id"], r["content"], r["cost_usd"]) for r in rows] == [
            ("q0", "fine", "0.000087"), ("q1", "fine", "0.000087")]
        server.batches.configure(complete_after_polls=100)
        jsonl.write_text(json.dumps(requests(1, prefix="c")[0]) + "\n")
        second = json.loads(runner.invoke(app, ["batch", "submit", str(jsonl), "-c", str(cfg), "--json"]).output)
        out = runner.invoke(app, ["batch", "cancel", second["id"], "-c", str(cfg), "--json"])
        assert json.loads(out.output)["status"] == "cancelled"
        listed = json.loads(runner.invoke(app, ["batch", "list", "-c", str(cfg), "--json"]).output)
        assert {b["id"]: b["status"] for b in listed} == {submitted["id"]: "completed", second["id"]: "cancelled"}
        bad = runner.invoke(app, ["batch", "submit", str(jsonl), "-c", str(cfg), "--tag", "nokv"])
        assert bad.exit_code == 1 and "--tag" in bad.output
