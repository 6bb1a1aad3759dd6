#!/usr/bin/env python
"""Client benchmarks: import time, routing latency, and overhead against calling litellm directly.

    python benchmarks/bench_client.py                 # all three, default sizes
    python benchmarks/bench_client.py --calls 600     # more calls per arm in (c)

(a) ``import costroute`` in a fresh interpreter (``-X importtime``), median of 5 runs.
(b) ``client.route(...)`` (validate, count tokens, classify, select) on the demo workload's mix
    of prompts, after a warm-up pass: p50 / p99 in microseconds.
(c) ``client.chat.completions.create`` against ``litellm.completion`` on the same loopback
    ``FakeOpenAIServer``, N sequential calls per arm, interleaved in rounds to cancel drift:
    p50 latencies and the ratio costroute / litellm (target <= 1.10). The fake runs in a child
    process (``--in-process`` to share this one's GIL, which inflates the client's share).

A script that prints figures, not a test. No network beyond 127.0.0.1, no keys.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

KEY = "sk-bench-0000000000000000"
MODEL = "openai/gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


# -- (a) import time --------------------------------------------------------------------------------


def bench_import(runs: int = 5) -> None:
    cumulative: list[float] = []
    wall: list[float] = []
    bare: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import costroute"], check=True, capture_output=True, text=True
        )
        wall.append(time.perf_counter() - t0)
        match = re.search(r"^import time:\s+\d+ \|\s+(\d+) \| costroute$", out.stderr, re.MULTILINE)
        if match:
            cumulative.append(int(match.group(1)) / 1000)
    print("(a) import costroute (fresh interpreter, median of", runs, "runs)")
    if cumulative:
        print(f"    -X importtime cumulative : {statistics.median(cumulative):8.1f} ms")
    print(
        f"    python -c 'import costroute': {statistics.median(wall) * 1000:8.1f} ms wall "
        f"(bare interpreter {statistics.median(bare) * 1000:.1f} ms)"
    )


# -- (b) classify + select ---------------------------------------------------------------------------


def bench_route(passes: int = 5) -> None:
    from costroute import Client
    from costroute.demo import build_workload, demo_config
    from costroute.spend import MemoryLedger

    workload = [list(item.messages) for item in build_workload(240)]
    with Client(demo_config(), ledger=MemoryLedger()) as warm:
        for messages in workload:  # warm-up: tokenizer load, registry and classifier caches
            warm.route(messages)
    first: list[float] = []
    repeat: list[float] = []
    for _ in range(passes):
        # a new client per pass: every prompt is routed for the first time (classified, counted,
        # selected); the second sweep hits the client's memo of decisions for repeated requests
        with Client(demo_config(), ledger=MemoryLedger()) as client:
            for into in (first, repeat):
                for messages in workload:
                    t0 = time.perf_counter_ns()
                    client.route(messages)
                    into.append((time.perf_counter_ns() - t0) / 1000)
    print(f"(b) client.route (validate, count tokens, classify, select) over {len(first)} routes of "
          f"{len(workload)} mixed prompts")
    for name, samples in (("first time", first), ("repeated", repeat)):
        print(
            f"    {name:<10} p50 {_pct(samples, 50):8.1f} µs   p99 {_pct(samples, 99):8.1f} µs   "
            f"mean {statistics.fmean(samples):8.1f} µs"
        )


# -- (c) overhead against litellm ----------------------------------------------------------------------


def _timed(call: Callable[[], Any], n: int, into: list[float]) -> None:
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        into.append((time.perf_counter() - t0) * 1000)


def _fake_server(keep_nagle: bool) -> Any:
    from costroute.testing import FakeOpenAIServer

    fake = FakeOpenAIServer()
    if not keep_nagle:
        # The fake writes headers and body in two send()s; with Nagle on, the body waits for the
        # client's delayed ACK (~40 ms on Linux), which would swamp what is measured here.
        fake._server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
    fake.script("gpt-4o-mini", answer="Paris.")
    return fake


def _serve(keep_nagle: bool, urls: Any, stop: Any) -> None:
    """Child process: run the fake until told to stop (a real provider does not share our GIL)."""
    with _fake_server(keep_nagle) as fake:
        urls.put(fake.base_url)
        stop.wait()


@contextlib.contextmanager
def _provider(*, keep_nagle: bool, in_process: bool) -> Iterator[str]:
    if in_process:
        with _fake_server(keep_nagle) as fake:
            yield fake.base_url
        return
    ctx = multiprocessing.get_context("spawn")
    urls, stop = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=_serve, args=(keep_nagle, urls, stop), daemon=True)
    child.start()
    try:
        yield urls.get(timeout=60)
    finally:
        stop.set()
        child.join(10)
        urls.close()
        urls.join_thread()


def bench_overhead(calls: int, rounds: int, *, keep_nagle: bool, in_process: bool) -> None:
    from costroute import Client
    from costroute.providers import import_litellm
    from costroute.spend import MemoryLedger

    litellm = import_litellm()
    with _provider(keep_nagle=keep_nagle, in_process=in_process) as base_url:
        config = {
            "models": [
                {"name": MODEL, "api_base": base_url, "api_key": KEY},
                {"name": "openai/gpt-4o", "api_base": base_url, "api_key": KEY},
            ],
            "policies": {"default": {"baseline": "openai/gpt-4o"}},
        }
        with Client(config, ledger=MemoryLedger()) as client:

            def via_costroute() -> Any:
                resp = client.chat.completions.create(messages=MESSAGES)
                assert resp.costroute.model == MODEL
                return resp

            def via_litellm() -> Any:
                # the same request costroute sends: it adds the policy's answer cap
                return litellm.completion(
                    model=MODEL, api_base=base_url, api_key=KEY, messages=MESSAGES, max_tokens=4096
                )

            for _ in range(20):  # warm-up: imports, connection pools, caches
                via_costroute()
                via_litellm()
            ours: list[float] = []
            theirs: list[float] = []
            per_round = max(1, calls // rounds)
            for r in range(rounds):
                arms = [(via_costroute, ours), (via_litellm, theirs)]
                for call, into in arms if r % 2 == 0 else arms[::-1]:
                    _timed(call, per_round, into)
    p50_ours, p50_theirs = statistics.median(ours), statistics.median(theirs)
    where = "in this process" if in_process else "in a child process"
    print(
        f"(c) overhead: {len(ours)} calls per arm, {rounds} interleaved rounds, loopback fake {where} "
        f"(Nagle {'on' if keep_nagle else 'off'})"
    )
    for name, values in (("costroute", ours), ("litellm", theirs)):
        print(
            f"    {name:<10} p50 {statistics.median(values):7.2f} ms   p90 {_pct(values, 90):7.2f} ms   "
            f"mean {statistics.fmean(values):7.2f} ms"
        )
    verdict = "ok" if p50_ours / p50_theirs <= 1.10 else "ABOVE TARGET"
    print(
        f"    ratio costroute/litellm (p50) {p50_ours / p50_theirs:.3f}  "
        f"(+{p50_ours - p50_theirs:.2f} ms per call; target <= 1.10: {verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300, help="calls per arm in (c) (default 300)")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds in (c) (default 6)")
    parser.add_argument("--keep-nagle", action="store_true", help="leave the fake server's Nagle stall in")
    parser.add_argument("--in-process", action="store_true", help="run the fake in this process (shares the GIL)")
    parser.add_argument("--only", choices=["import", "route", "overhead"], help="run one benchmark")
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    if args.only in (None, "import"):
        bench_import()
    if args.only in (None, "route"):
        bench_route()
    if args.only in (None, "overhead"):
        bench_overhead(args.calls, args.rounds, keep_nagle=args.keep_nagle, in_process=args.in_process)


if __name__ == "__main__":
    main()
