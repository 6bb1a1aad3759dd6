#!/usr/bin/env python
"""costroute's own time on the client's paths, with the provider replaced by an in-memory completer.

    python benchmarks/bench_client_paths.py [--n 2000]

Prints p50 / p99 in microseconds of ``client.chat.completions.create`` for:
  * a cache hit, memory and SQLite cache stores (target p50 <= 50 us memory, <= 500 us SQLite),
    and a memory-cache hit recorded in a SQLite ledger (the default ledger); for scale, the
    floor: the least a recorded hit can cost in this interpreter (validate, key, dict lookup,
    ledger record, response copy; no routing or cache rules);
  * a miss (no cache: routing + call + pricing + ledger), with a memory ledger, a SQLite ledger,
    and a SQLite ledger plus a SQLite budget (reserve + settle): the overhead the ledger and budgets
    add per request;
  * async cache-hit throughput (requests/s, 64 concurrent tasks).
The completer answers instantly, so everything measured is costroute's own work. A script that
prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from costroute import AsyncClient, Client
from costroute._validate import validate_messages, validate_params
from costroute.cache import cache_key
from costroute.providers import ProviderCall, copy_response, response_from_dict
from costroute.spend import MemoryLedger, SpendRecord, SQLiteBudgetStore, SQLiteLedger

MESSAGES = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
REPLY = {
    "id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Paris."}}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22},
}


class InstantCompleter:
    """Answers every call at once with the same response."""

    def complete(self, call: ProviderCall) -> Any:
        return response_from_dict(REPLY)

    async def acomplete(self, call: ProviderCall) -> Any:
        return response_from_dict(REPLY)

    def stream(self, call: ProviderCall) -> Any:
        raise NotImplementedError

    def astream(self, call: ProviderCall) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _config(cache: dict[str, Any], budgets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "models": [
            {"name": "openai/gpt-4o-mini", "api_key": "sk-bench"},
            {"name": "openai/gpt-4o", "api_key": "sk-bench"},
        ],
        "cache": cache,
        "budgets": budgets or [],
    }


def _time(fn: Callable[[], Any], n: int) -> list[float]:
    for _ in range(min(200, n)):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def _report(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(f"  {name:<54} p50 {statistics.median(samples):8.1f} us   p99 {p99:8.1f} us")


def bench_hits(n: int, tmp: Path) -> None:
    print("cache hit through the full client (validate, classify, route, look up, replay, record):")
    arms = (
        ("memory cache", {}, MemoryLedger),
        ("sqlite cache", {"path": str(tmp / "cache.sqlite3")}, MemoryLedger),
        ("memory cache, SQLite ledger (the default ledger)", {}, lambda: SQLiteLedger(tmp / "hits.sqlite3")),
    )
    medians = {}
    for name, extra, make_ledger in arms:
        backend = name.split()[0]
        client = Client(_config({"backend": backend, **extra}), completer=InstantCompleter(), ledger=make_ledger())
        client.chat.completions.create(messages=MESSAGES, temperature=0)  # fill
        samples = _time(lambda c=client: c.chat.completions.create(messages=MESSAGES, temperature=0), n)
        assert client.chat.completions.create(messages=MESSAGES, temperature=0).costroute.cache_hit
        _report(f"hit, {name}", samples)
        medians[name] = statistics.median(samples)
        client.close()
    floor = bench_floor(n)
    _report("floor: validate + key + dict + record + copy", floor)
    print(f"  memory hit / floor: {medians['memory cache'] / statistics.median(floor):.2f}x")


def bench_floor(n: int) -> list[float]:
    """The least a recorded memory hit can cost in this interpreter, for scale: validate the
    request, hash it, find the entry in a dict, append a ledger record, copy a prebuilt response.
    No routing memo, no namespace, quality or TTL rules, no RouteInfo."""
    prebuilt, found, ledger = response_from_dict(REPLY), {}, MemoryLedger()

    def hit() -> Any:
        messages = validate_messages(MESSAGES)
        validate_params({"temperature": 0})
        key = cache_key({"messages": messages, "temperature": 0}, policy="default", namespace="", target="routed:x")
        found.get(key)
        ledger.append(SpendRecord(
            request_id="cr-" + os.urandom(16).hex(), attempt=0, ts=datetime.now(timezone.utc), model="m",
            provider="openai", status="cache_hit", input_tokens=20, output_tokens=2,
            saved_usd=Decimal("0.000010"), prompt_hash=key[4:36],
        ))
        return copy_response(prebuilt)

    return _time(hit, n)


def bench_misses(n: int, tmp: Path) -> None:
    print("miss: routing + call + pricing + ledger [+ budget] [+ cache lookup and store], instant provider:")
    arms = (
        ("memory ledger", lambda: MemoryLedger(), None),
        ("SQLite ledger", lambda: SQLiteLedger(tmp / "ledger.sqlite3"), None),
        ("SQLite ledger + SQLite budget", lambda: SQLiteLedger(tmp / "ledger2.sqlite3"),
         [{"name": "b", "limit_usd": 1_000_000, "period": "month"}]),
    )
    for name, make_ledger, budgets in arms:
        kwargs: dict[str, Any] = {"completer": InstantCompleter(), "ledger": make_ledger()}
        if budgets:
            kwargs["budget_store"] = SQLiteBudgetStore(tmp / "budgets.sqlite3")
        client = Client(_config({"enabled": False}, budgets), **kwargs)
        _report(name, _time(lambda c=client: c.chat.completions.create(messages=MESSAGES), n))
        client.close()
    # what the cache adds to a miss (key, lookup, single-flight lock, storing the answer):
    # every prompt new, so each request is classified and routed afresh in both arms
    fresh = iter(range(10**9))

    def new_prompt(c: Client) -> Any:
        content = f"{MESSAGES[0]['content']} #{next(fresh)}"
        return c.chat.completions.create(messages=[{"role": "user", "content": content}], temperature=0)

    for name, cache in (("no cache", {"enabled": False}), ("memory cache", {"backend": "memory"})):
        client = Client(_config(cache), completer=InstantCompleter(), ledger=MemoryLedger())
        _report(f"memory ledger, {name}, every prompt new", _time(lambda c=client: new_prompt(c), n))
        client.close()


async def _async_hits(n: int, concurrency: int = 64) -> float:
    client = AsyncClient(_config({"backend": "memory"}), completer=InstantCompleter(), ledger=MemoryLedger())
    await client.chat.completions.create(messages=MESSAGES, temperature=0)
    per_task = n // concurrency

    async def worker() -> None:
        for _ in range(per_task):
            await client.chat.completions.create(messages=MESSAGES, temperature=0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    await client.aclose()
    return per_task * concurrency / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_hits(args.n, Path(tmp))
        bench_misses(args.n, Path(tmp))
    rate = asyncio.run(_async_hits(args.n * 2))
    print(f"async cache hits, 64 concurrent tasks: {rate:,.0f} requests/s")


if __name__ == "__main__":
    main()
