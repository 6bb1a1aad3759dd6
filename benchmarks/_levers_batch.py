"""The batch arm of ``bench_levers.py``: the same replayed demo requests through ``client.batches``.

:func:`batch_total` builds the demo's replay configuration (the recorded models at their registry
prices, pointed at the loopback fake), with the recorded answers and token counts replayed on
the current models ``bench_levers.FLEX_MODELS`` names (the recorded ones, gpt-4-1106-preview and
Together's Mixtral, have no batch price: batch routing refuses them), submits the first
``prompts`` recorded requests as one
``client.batches`` batch (each routed on its own at batch prices), waits for the fake to finish
it, collects, and answers the total the ledger booked.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from costroute import Client
from costroute.demo._config import replay_config
from costroute.demo._run import recorded_answer
from costroute.demo._sample import load_sample
from costroute.pricing import PriceRegistry
from costroute.testing import FakeOpenAIServer, Reply

__all__ = ["batch_total"]


#: The same renames as ``bench_levers.FLEX_MODELS`` (kept here so this module imports on its own).
RENAME = {"together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1": "openai/gpt-5-mini",
          "openai/gpt-4-1106-preview": "openai/gpt-5"}


def batch_total(prompts: int) -> Decimal:
    """What the first ``prompts`` demo requests cost booked through ``client.batches``."""
    sample = load_sample()
    rows = sample.rows[:prompts]
    registry = PriceRegistry.default(plugins=False)
    with FakeOpenAIServer() as fake, tempfile.TemporaryDirectory() as tmp:
        config = replay_config(sample, fake.base_url, registry=registry)
        for spec in config["models"]:
            recorded = next(m for m in sample.models if m.name == spec["name"])
            spec["name"] = RENAME.get(spec["name"], spec["name"])
            if registry.find(spec["name"]) is not None:
                spec.pop("price", None)
            fake.replay(spec["name"].split("/", 1)[1], {
                r.prompt: Reply(recorded_answer(r, recorded), prompt_tokens=r.prompt_tokens,
                                completion_tokens=r.completion_tokens) for r in rows})
        for policy in config["policies"].values():
            policy["baseline"] = RENAME.get(policy["baseline"], policy["baseline"])
        config["ledger"] = {"backend": "sqlite", "path": str(Path(tmp) / "ledger.db")}
        with Client(config, registry=registry) as client:
            batch = client.batches.create(
                requests=[{"custom_id": f"r{i}", "messages": row.messages} for i, row in enumerate(rows)])
            done = client.batches.wait(batch.id, poll_s=0.01, timeout_s=60)
            if done.counts["booked"] != len(rows):
                raise RuntimeError(f"batch {done.id}: {dict(done.counts)} of {len(rows)} booked")
            total = sum((r.cost_usd for r in client.spend.records()), Decimal(0))
            client._engine.ledger.close()
    return total
