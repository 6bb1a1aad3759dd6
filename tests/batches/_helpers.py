"""Config and worker bodies for the batch tests (importable by ``spawn``ed children)."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

EASY = "Say {}."


def config(base_url: str, tmp: str, limit: str = "1") -> dict[str, Any]:
    """gpt-4o-mini at its registry prices (a batch price: half), and a cheaper model with an
    explicit default-tier price only (no batch price: routing must pass it over for batches)."""
    return {
        "models": [
            {"name": "openai/gpt-4o-mini", "api_base": base_url, "api_key": "sk-batch-secret-0123", "quality": 0.6},
            {"name": "openai/nobatch", "api_base": base_url, "api_key": "sk-batch-secret-0123", "quality": 0.6,
             "price": {"input_per_mtok": "0.01", "output_per_mtok": "0.02"}},
        ],
        "policies": {"default": {"max_output_tokens": 100, "retry": {"attempts_per_model": 1}}},
        "budgets": [{"name": "all", "limit_usd": limit, "period": "day", "on_exceed": "block"}],
        "ledger": {"backend": "sqlite", "path": os.path.join(tmp, "ledger.db")},
        "budget_store": {"backend": "sqlite", "path": os.path.join(tmp, "budgets.db")},
    }


def requests(n: int, *, prefix: str = "q", max_tokens: int = 50) -> list[dict[str, Any]]:
    return [{"custom_id": f"{prefix}{i}", "messages": [{"role": "user", "content": EASY.format(i)}],
             "max_tokens": max_tokens} for i in range(n)]


def submit_and_die(cfg: dict[str, Any], n: int, out: str) -> None:
    """Submit a batch, write its id, and die at once (SIGKILL: no cleanup, no atexit)."""
    from costroute import Client

    batch = Client(cfg).batches.create(requests=requests(n))
    with open(out, "w") as fh:
        fh.write(batch.id)
    os.kill(os.getpid(), signal.SIGKILL)


def collect(cfg: dict[str, Any], batch_id: str) -> None:
    from costroute import Client

    client = Client(cfg)
    client.batches.wait(batch_id, poll_s=0.01, timeout_s=90)
    sys.exit(0)
