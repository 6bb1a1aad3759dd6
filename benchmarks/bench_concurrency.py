#!/usr/bin/env python
"""Throughput under concurrency, side by side with litellm on the same loopback provider.

    python benchmarks/bench_concurrency.py [--rounds 3] [--only async|identical|sync|hits|memory]

(a) async: ``AsyncClient`` (SQLite ledger) against raw ``litellm.acompletion`` at 16, 64 and 256
    requests in flight, unique prompts, interleaved rounds: req/s of each, the ratio (target
    >= 0.9) and the new TCP connections per request the provider accepted (target <= 0.2).
(b) identical prompts that cannot be cached (no temperature) against unique ones, 16 in flight,
    20 ms upstream (target: as fast).
(c) sync: ``Client`` with the SQLite ledger against a direct ``litellm.completion``, one call at
    a time: p50 ratio (target <= 1.10).
(d) a memory-cache hit recorded in the SQLite ledger against one in the memory ledger (<= 2x).
(e) resident memory: RSS after the first request, costroute's process against litellm alone.

The fake provider runs in a child process so it does not share this process's GIL. A script
that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

KEY = "sk-bench-0000000000000000"
MODEL = "openai/gpt-4o-mini"


# -- the provider, in a child process ----------------------------------------------------------------

def _serve(cmds: Any, replies: Any) -> None:
    from costroute.testing import FakeOpenAIServer

    with FakeOpenAIServer() as fake:
        fake.script("gpt-4o-mini", answer="Paris.")
        replies.put(fake.base_url)
        while (cmd := cmds.get()) != "stop":
            if cmd == "stats":
                replies.put((fake.connections, len(fake.calls), fake.peak_in_flight))
            elif cmd == "reset":
                fake.reset_counts()
                replies.put(None)
            elif isinstance(cmd, tuple) and cmd[0] == "latency":
                fake.script("gpt-4o-mini", answer="Paris.", latency_s=cmd[1])
                replies.put(None)


class Provider:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._cmds, self._replies = ctx.Queue(), ctx.Queue()
        self._child = ctx.Process(target=_serve, args=(self._cmds, self._replies), daemon=True)
        self._child.start()
        self.base_url: str = self._replies.get(timeout=60)

    def ask(self, cmd: Any) -> Any:
        self._cmds.put(cmd)
        return self._replies.get(timeout=60)

    def close(self) -> None:
        self._cmds.put("stop")
        self._child.join(10)


@contextlib.contextmanager
def provider() -> Iterator[Provider]:
    fake = Provider()
    try:
        yield fake
    finally:
        fake.close()


def _config(base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "models": [{"name": MODEL, "api_base": base_url, "api_key": KEY, "quality": 0.9,
                    "price": {"input_per_mtok": "0.15", "output_per_mtok": "0.60"}}],
        "policies": {"default": {"baseline": MODEL}},
        **extra,
    }


def _messages(i: int | None) -> list[dict[str, str]]:
    text = "What is the capital of France?" if i is None else f"Question {i}: what is {i} times 7?"
    return [{"role": "user", "content": text}]


# -- (a), (b) async throughput -------------------------------------------------------------------------

async def _throughput(call: Callable[[int], Awaitable[Any]], in_flight: int, total: int) -> float:
    gate = asyncio.Semaphore(in_flight)

    async def one(i: int) -> None:
        async with gate:
            await call(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(total)))
    return total / (time.perf_counter() - t0)


async def _async_arms(fake: Provider, tmp: Path, *, identical: bool, offset: list[int]) -> dict[str, Any]:
    from costroute import AsyncClient
    from costroute.providers import import_litellm
    from costroute.spend import SQLiteLedger

    litellm = import_litellm()
    client = AsyncClient(_config(fake.base_url), ledger=SQLiteLedger(tmp / f"async-{offset[0]}.sqlite3"))

    def prompt(i: int) -> list[dict[str, str]]:
        offset[0] += 1
        return _messages(None if identical else offset[0] * 100_000 + i)

    async def ours(i: int) -> Any:
        return await client.chat.completions.create(messages=prompt(i))

    async def theirs(i: int) -> Any:  # the request costroute sends (it adds the policy's answer cap)
        return await litellm.acompletion(model=MODEL, api_base=fake.base_url, api_key=KEY, messages=prompt(i),
                                         max_tokens=4096, num_retries=0, max_retries=0)

    return {"costroute": ours, "litellm": theirs, "close": client.aclose}


async def bench_async(fake: Provider, tmp: Path, levels: list[int], rounds: int) -> None:
    print("(a) async, unique prompts, SQLite ledger: req/s (best of the interleaved rounds)")
    offset = [0]
    arms = await _async_arms(fake, tmp, identical=False, offset=offset)
    try:
        for level in levels:
            total = max(4 * level, 256)
            for name in ("costroute", "litellm"):  # warm: pools at this size
                await _throughput(arms[name], level, level)
            rates: dict[str, list[float]] = {"costroute": [], "litellm": []}
            conns: dict[str, list[float]] = {"costroute": [], "litellm": []}
            for r in range(rounds):
                order = ["costroute", "litellm"] if r % 2 == 0 else ["litellm", "costroute"]
                for name in order:
                    fake.ask("reset")
                    rates[name].append(await _throughput(arms[name], level, total))
                    accepted, calls, _ = fake.ask("stats")
                    conns[name].append(accepted / max(1, calls))
            ours, theirs = max(rates["costroute"]), max(rates["litellm"])
            verdict = "ok" if ours >= 0.9 * theirs else "BELOW TARGET"
            print(f"    {level:>4} in flight: costroute {ours:7.1f}  litellm {theirs:7.1f}  ratio {ours / theirs:5.2f} "
                  f"({verdict}); new connections/request costroute {max(conns['costroute']):.3f} "
                  f"litellm {max(conns['litellm']):.3f}")
    finally:
        await arms["close"]()


async def bench_identical(fake: Provider, tmp: Path, rounds: int) -> None:
    print("(b) async, 16 in flight, 20 ms upstream: identical uncacheable prompts vs unique ones (req/s)")
    fake.ask(("latency", 0.02))
    try:
        offset = [0]
        unique = await _async_arms(fake, tmp, identical=False, offset=offset)
        same = await _async_arms(fake, tmp, identical=True, offset=offset)
        results: dict[str, list[float]] = {"unique": [], "identical": [], "litellm identical": []}
        calls = {"unique": unique["costroute"], "identical": same["costroute"], "litellm identical": same["litellm"]}
        for call in calls.values():
            await _throughput(call, 16, 32)
        for r in range(rounds):
            for name in (list(calls) if r % 2 == 0 else list(calls)[::-1]):
                results[name].append(await _throughput(calls[name], 16, 320))
        await unique["close"]()
        await same["close"]()
    finally:
        fake.ask(("latency", 0.0))
    best = {k: max(v) for k, v in results.items()}
    verdict = "ok" if best["identical"] >= 0.9 * best["unique"] else "SLOWER"
    print(f"    unique {best['unique']:.1f}  identical {best['identical']:.1f}  "
          f"(ratio {best['identical'] / best['unique']:.2f}: {verdict}); "
          f"litellm identical {best['litellm identical']:.1f}")


# -- (c) sync overhead -----------------------------------------------------------------------------------

def _timed(call: Callable[[], Any], n: int, into: list[float]) -> None:
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        into.append((time.perf_counter() - t0) * 1000)


def bench_sync(fake: Provider, tmp: Path, calls: int, rounds: int) -> None:
    from costroute import Client
    from costroute.providers import import_litellm
    from costroute.spend import SQLiteLedger

    litellm = import_litellm()
    messages = _messages(None)
    with Client(_config(fake.base_url), ledger=SQLiteLedger(tmp / "sync.sqlite3")) as client:
        def ours() -> Any:
            return client.chat.completions.create(messages=messages)

        def theirs() -> Any:
            return litellm.completion(model=MODEL, api_base=fake.base_url, api_key=KEY, messages=messages,
                                      max_tokens=4096, num_retries=0, max_retries=0)

        for _ in range(20):
            ours()
            theirs()
        a: list[float] = []
        b: list[float] = []
        for r in range(rounds):
            for call, into in ((ours, a), (theirs, b)) if r % 2 == 0 else ((theirs, b), (ours, a)):
                _timed(call, calls // rounds, into)
    ratio = statistics.median(a) / statistics.median(b)
    print(f"(c) sync, one at a time, SQLite ledger: costroute p50 {statistics.median(a):.2f} ms, litellm "
          f"{statistics.median(b):.2f} ms: ratio {ratio:.3f} (target <= 1.10: {'ok' if ratio <= 1.10 else 'ABOVE'})")


# -- (d) cache hits by ledger -----------------------------------------------------------------------------

def bench_hits(fake: Provider, tmp: Path, n: int) -> None:
    from costroute import Client
    from costroute.spend import MemoryLedger, SQLiteLedger

    messages = _messages(None)
    medians: dict[str, float] = {}
    clients = {"memory ledger": Client(_config(fake.base_url), ledger=MemoryLedger()),
               "SQLite ledger": Client(_config(fake.base_url), ledger=SQLiteLedger(tmp / "hits.sqlite3"))}
    samples: dict[str, list[float]] = {k: [] for k in clients}
    for client in clients.values():
        client.chat.completions.create(messages=messages, temperature=0)
        for _ in range(200):
            client.chat.completions.create(messages=messages, temperature=0)
    for r in range(4):
        for name in (list(clients) if r % 2 == 0 else list(clients)[::-1]):
            client = clients[name]
            for _ in range(n // 4):
                t0 = time.perf_counter_ns()
                client.chat.completions.create(messages=messages, temperature=0)
                samples[name].append((time.perf_counter_ns() - t0) / 1000)
    for name, client in clients.items():
        client.close()
        medians[name] = statistics.median(samples[name])
    ratio = medians["SQLite ledger"] / medians["memory ledger"]
    print(f"(d) memory-cache hit: memory ledger p50 {medians['memory ledger']:.1f} us, SQLite ledger "
          f"{medians['SQLite ledger']:.1f} us: ratio {ratio:.2f} (target <= 2: {'ok' if ratio <= 2 else 'ABOVE'})")


# -- (e) resident memory ---------------------------------------------------------------------------------

_RSS = """
import os, sys, resource
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
base = sys.argv[1]
msgs = [{"role": "user", "content": "What is the capital of France?"}]
if sys.argv[2] == "costroute":
    from costroute import Client
    from costroute.spend import MemoryLedger
    c = Client({"models": [{"name": "openai/gpt-4o-mini", "api_base": base, "api_key": "sk-bench-0000000000000000"}]},
               ledger=MemoryLedger())
    c.chat.completions.create(messages=msgs)
else:
    import litellm
    litellm.completion(model="openai/gpt-4o-mini", api_base=base, api_key="sk-bench-0000000000000000", messages=msgs)
with open("/proc/self/status") as f:
    print(next(line.split()[1] for line in f if line.startswith("VmRSS")))
"""


def bench_memory(fake: Provider) -> None:
    rss = {}
    for arm in ("litellm", "costroute"):
        out = subprocess.run([sys.executable, "-c", _RSS, fake.base_url, arm], check=True, capture_output=True,
                             text=True)
        rss[arm] = int(out.stdout.split()[-1]) / 1024
    print(f"(e) RSS after the first request: litellm alone {rss['litellm']:.0f} MiB, costroute "
          f"{rss['costroute']:.0f} MiB (+{rss['costroute'] - rss['litellm']:.0f} MiB)")



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--levels", default="16,64,256")
    parser.add_argument("--calls", type=int, default=300, help="sync calls per arm in (c)")
    parser.add_argument("--only", choices=["async", "identical", "sync", "hits", "memory"])
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    levels = [int(x) for x in args.levels.split(",")]
    with provider() as fake, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if args.only in (None, "async"):
            asyncio.run(bench_async(fake, tmp, levels, args.rounds))
        if args.only in (None, "identical"):
            asyncio.run(bench_identical(fake, tmp, args.rounds))
        if args.only in (None, "sync"):
            bench_sync(fake, tmp, args.calls, args.rounds * 2)
        if args.only in (None, "hits"):
            bench_hits(fake, tmp, 2000)
        if args.only in (None, "memory"):
            bench_memory(fake)


if __name__ == "__main__":
    main()

