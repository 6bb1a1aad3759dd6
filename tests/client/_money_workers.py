"""Worker body for the multi-process money invariant (importable, so ``spawn`` children can run it).

Each child is one application process with its own :class:`Client` on a shared SQLite ledger and a
shared budget store, sending a seeded mix of the requests that used to overspend or go unbooked:
``n > 1`` answers, image parts, client-side timeouts and streams abandoned part-way."""

from __future__ import annotations

import random
import threading
from typing import Any

from costroute import BudgetExceeded, Client, ProviderTimeoutError

KINDS = ("plain", "n", "image", "timeout", "abandoned")


def config(base_url: str, ledger: str, store: dict[str, Any], limit: str) -> dict[str, Any]:
    def model(name: str, price: tuple[str, str]) -> dict[str, Any]:
        return {"name": name, "api_base": base_url, "api_key": "sk-loop", "quality": 0.5,
                "price": {"input_per_mtok": price[0], "output_per_mtok": price[1]}}

    return {
        "models": [model("openai/cheap", ("0.1", "0.2")), model("openai/slow", ("5", "10")),
                   model("openai/gpt-4o-mini", ("0.15", "0.60"))],
        "policies": {"default": {"max_output_tokens": 100, "retry": {"attempts_per_model": 1}}},
        "budgets": [{"name": "all", "limit_usd": limit, "period": "day", "on_exceed": "block"}],
        "ledger": {"backend": "sqlite", "path": ledger},
        "budget_store": store,
    }


def one(client: Client, kind: str, image: list[dict[str, Any]]) -> str:
    """Send one request of a kind; what happened to it."""
    easy = [{"role": "user", "content": "Say hi."}]
    try:
        if kind == "plain":
            client.chat.completions.create(messages=easy)
        elif kind == "n":
            client.chat.completions.create(messages=easy, n=4)
        elif kind == "image":
            client.chat.completions.create(model="openai/gpt-4o-mini", messages=image)
        elif kind == "timeout":
            client.chat.completions.create(model="openai/slow", messages=easy, timeout=0.15)
        else:
            stream = client.chat.completions.create(messages=easy, stream=True)
            next(stream), next(stream)
            stream.close()
    except BudgetExceeded:
        return "refused"
    except ProviderTimeoutError:
        return "timeout"
    return "answered"


def process_main(cfg: dict[str, Any], image: list[dict[str, Any]], seeds: list[int], threads: int) -> None:
    """Run every seed's mix on ``threads`` threads of one client; exit non-zero on any surprise."""
    client = Client(cfg)
    failures: list[BaseException] = []

    def work(seed: int, t: int) -> None:
        rng = random.Random(seed * 1000 + t)
        for _ in range(3):
            try:
                one(client, rng.choice(KINDS), image)
            except BaseException as exc:  # anything else is a bug: report it to the parent
                failures.append(exc)

    try:
        for seed in seeds:
            pool = [threading.Thread(target=work, args=(seed, t)) for t in range(threads)]
            for th in pool:
                th.start()
            for th in pool:
                th.join()
    finally:
        client.close()
    if failures:
        raise SystemExit(f"{len(failures)} unexpected errors, first: {failures[0]!r}")
