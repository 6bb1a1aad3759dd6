"""Budget store throughput: reserve+settle pairs per second and p99 latency, 4 processes.

    python benchmarks/bench_budget.py [--processes 4] [--seconds 3]

Runs against SQLite (a temporary file) and Redis (a redis-server this script starts on a free
loopback port; skipped if the binary is missing). Targets on SQLite: >= 300 pairs/s, p99 <= 25 ms.

SQLite runs three ways, side by side: ``sqlite-busy`` is the old busy handling (a plain
``BEGIN IMMEDIATE`` under SQLite's own busy timeout, whose sleeps back off to 100 ms), ``sqlite``
the store as shipped (``BEGIN IMMEDIATE`` retried with short jittered sleeps), ``sqlite-guarded``
the same with the seeded-marker check a client with a ledger adds to every operation.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from costroute.spend import (
    BudgetConfig,
    Budgets,
    BudgetStore,
    MemoryLedger,
    RedisBudgetStore,
    SQLiteBudgetStore,
)

BUDGETS = [
    BudgetConfig(name="global", limit_usd=Decimal("1000000"), period="month"),
    BudgetConfig(name="per-user", limit_usd=Decimal("1000000"), period="day", scope="tag:user"),
]


def _open(kind: str, where: str) -> BudgetStore:
    return RedisBudgetStore(where) if kind == "redis" else SQLiteBudgetStore(where)


def _coarse_begin(conn: sqlite3.Connection, timeout_s: float, busy_ms: int) -> None:
    """The busy handling before: SQLite's own busy handler (sleeps of up to 100 ms)."""
    conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
    conn.execute("BEGIN IMMEDIATE")


def worker(kind: str, where: str, seconds: float, ready: Any, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    if kind == "sqlite-busy":
        from costroute.spend import _sqlite

        _sqlite._begin_immediate = _coarse_begin  # type: ignore[assignment]
    store = _open(kind, where)
    budgets = Budgets(BUDGETS, store, ledger=MemoryLedger() if kind.endswith("guarded") else None)
    latencies: list[float] = []
    ready.wait(120)  # every child imported and connected: start together
    end = time.time() + seconds
    i = 0
    while time.time() < end:
        t0 = time.perf_counter()
        res = budgets.reserve(request_id=f"r{i}", amount=Decimal("0.01"), tags={"user": f"u{i % 7}"})
        res.settle(Decimal("0.004"))
        latencies.append(time.perf_counter() - t0)
        i += 1
    store.close()
    out.put(latencies)


def run(kind: str, where: str, processes: int, seconds: float) -> tuple[float, float, float]:
    _open(kind, where).close()  # create the schema before the clock starts
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    ready = ctx.Barrier(processes)
    procs = [ctx.Process(target=worker, args=(kind, where, seconds, ready, out)) for _ in range(processes)]
    for p in procs:
        p.start()
    latencies = sorted(x for _ in procs for x in out.get(timeout=seconds + 60))
    for p in procs:
        p.join()
    rate = len(latencies) / seconds
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return rate, p50, p99


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"reserve+settle pairs, {args.processes} processes, {args.seconds:g} s each, 2 budgets per request")
    with tempfile.TemporaryDirectory(prefix="costroute-bench-") as tmp:
        results: dict[str, list[tuple[float, float, float]]] = {}
        for round_ in range(args.rounds):  # interleaved, so machine noise hits every variant
            for kind in ("sqlite-busy", "sqlite", "sqlite-guarded"):
                path = str(Path(tmp) / f"{kind}-{round_}.sqlite3")
                results.setdefault(kind, []).append(run(kind, path, args.processes, args.seconds))
        for kind, runs in results.items():
            rate = sum(r[0] for r in runs) / len(runs)
            p50 = sorted(r[1] for r in runs)[len(runs) // 2]
            p99 = max(r[2] for r in runs)
            ok = "ok" if rate >= 300 and p99 <= 25 else "BELOW TARGET"
            print(
                f"{kind:15s} {rate:8.0f} pairs/s  p50 {p50:6.2f} ms  worst p99 of {len(runs)} runs {p99:6.2f} ms"
                f"  (target >= 300/s, p99 <= 25 ms: {ok})"
            )
        exe = shutil.which("redis-server")
        if exe is None:
            print("redis:  skipped (redis-server not installed)")
            return 0
        port = _free_port()
        server = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            rate, p50, p99 = run("redis", f"redis://127.0.0.1:{port}/0", args.processes, args.seconds)
            print(f"{'redis':15s} {rate:8.0f} pairs/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
        finally:
            server.terminate()
            server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
