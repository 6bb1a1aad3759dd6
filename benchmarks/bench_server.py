"""Per-request overhead of ``costroute serve`` and LiteLLM's proxy at fixed request rates, side by side.

    python benchmarks/bench_server.py [--rates 50,200,800] [--duration 10] [--workers 1,2]
        [--litellm /work/litellm-proxy-venv/bin/litellm] [--only direct,costroute,litellm]

One run, one loopback fake provider (``FakeOpenAIServer`` in a process of its own), and three ways
of reaching it: (1) the fake called directly, (2) ``costroute serve`` (its SQLite ledger, cache
off, no budgets), (3) LiteLLM's proxy (installed in a separate venv: ``python -m venv V &&
V/bin/pip install 'litellm[proxy]'``), each with 1 and 2 workers. For every rate, every arm is run
in turn (so they share the machine's noise). The load is open-loop: request ``i`` is sent at
``i / rate`` seconds whatever the earlier ones did, and its latency is counted from that moment,
so a server that falls behind shows its queueing. Overhead = the arm's latency percentile minus
the direct arm's at the same rate. "Sustained" is the highest rate tried at which every request
succeeded and the p99 overhead stayed under 50 ms.

The load generator is one Python process (httpx, asyncio): at high rates it is part of what is
measured; the direct arm shows its floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

OVERHEAD_LIMIT_MS = 50.0
LITELLM_KEY = "sk-bench-" + "0123456789abcdef" * 4
DEFAULT_LITELLM = "/work/litellm-proxy-venv/bin/litellm"


@dataclass
class Arm:
    name: str
    url: str  # the chat-completions URL
    model: str
    proc: subprocess.Popen[bytes] | None = None
    key: str = ""  # sent as a Bearer token


@dataclass
class Result:
    sent: int
    ok: int
    latencies_ms: list[float]

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fake() -> tuple[subprocess.Popen[str], str]:
    """The fake provider in a process of its own (it shares no interpreter lock with the load)."""
    code = ("import socketserver, time\nfrom costroute.testing import FakeOpenAIServer\n"
            "socketserver.TCPServer.request_queue_size = 4096\n"  # a listen backlog of 5 drops SYNs under load
            "server = FakeOpenAIServer().start()\nprint(server.base_url, flush=True)\ntime.sleep(1e9)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def _wait_up(proc: subprocess.Popen[bytes], url: str, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before it answered")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    raise SystemExit(f"{what} did not answer within {timeout_s:.0f} s")


def _costroute(base_url: str, tmp: Path, workers: int) -> Arm:
    config = {"models": [{"name": "openai/cheap", "api_base": base_url, "api_key": "sk-bench", "quality": 0.6,
                          "price": {"input_per_mtok": 1, "output_per_mtok": 2}}],
              "cache": {"enabled": False}, "ledger": {"backend": "sqlite", "path": str(tmp / f"ledger-{workers}.db")}}
    path = tmp / f"costroute-{workers}.yaml"
    path.write_text(yaml.safe_dump(config))
    port = _port()
    proc = subprocess.Popen([sys.executable, "-c", "from costroute.cli import main; main()", "serve", "--config",
                             str(path), "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                             "--log-level", "warning"], env=dict(os.environ))
    _wait_up(proc, f"http://127.0.0.1:{port}/healthz", "costroute serve")
    return Arm(f"costroute serve x{workers}", f"http://127.0.0.1:{port}/v1/chat/completions", "auto", proc)


def _litellm(binary: str, base_url: str, tmp: Path, workers: int) -> Arm:
    config = {"model_list": [{"model_name": "cheap", "litellm_params": {
        "model": "openai/cheap", "api_base": base_url, "api_key": "sk-bench"}}],
        "litellm_settings": {"telemetry": False, "drop_params": True},
        "general_settings": {"master_key": LITELLM_KEY}}  # it refuses to start without one
    path = tmp / f"litellm-{workers}.yaml"
    path.write_text(yaml.safe_dump(config))
    port = _port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(LITELLM_LOG="ERROR", LITELLM_LOCAL_MODEL_COST_MAP="True", DISABLE_ADMIN_UI="True")
    proc = subprocess.Popen([binary, "--config", str(path), "--host", "127.0.0.1", "--port", str(port),
                             "--num_workers", str(workers)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_up(proc, f"http://127.0.0.1:{port}/health/liveliness", "LiteLLM proxy")
    return Arm(f"LiteLLM proxy x{workers}", f"http://127.0.0.1:{port}/v1/chat/completions", "cheap", proc,
               key=LITELLM_KEY)


async def _load(http: httpx.AsyncClient, arm: Arm, rate: float, duration: float, tag: str) -> Result:
    """Open-loop: request i leaves at start + i/rate; latency from that moment to the full answer."""
    n = max(1, int(rate * duration))
    latencies: list[float] = []
    ok = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    headers = {"Authorization": f"Bearer {arm.key}"} if arm.key else {}

    async def one(i: int) -> None:
        nonlocal ok
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        body = {"model": arm.model, "messages": [{"role": "user", "content": f"{tag} request {i}"}]}
        try:
            resp = await http.post(arm.url, json=body, headers=headers)
            if resp.status_code == 200:
                ok += 1
                latencies.append((loop.time() - due) * 1000)
        except httpx.HTTPError:
            pass

    tasks = [asyncio.ensure_future(one(i)) for i in range(n)]
    _, late = await asyncio.wait(tasks, timeout=duration + 30)
    for task in late:
        task.cancel()
    return Result(sent=n, ok=ok, latencies_ms=latencies)


async def _run(arms: list[Arm], rates: list[float], duration: float) -> dict[tuple[str, float], Result]:
    out: dict[tuple[str, float], Result] = {}
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        for arm in arms:  # warm up: imports, pools, the ledger's first write
            await _load(http, arm, 20, 1.0, "warm-up")
        given_up: set[str] = set()  # an arm that failed requests at a lower rate is not loaded harder
        for rate in rates:
            for arm in arms:
                if arm.name in given_up or arms[0].name in given_up:
                    out[(arm.name, rate)] = Result(sent=int(rate * duration), ok=0, latencies_ms=[])
                    print(f"  {arm.name:22s} {rate:5.0f} req/s: skipped (failed at a lower rate)", flush=True)
                    continue
                out[(arm.name, rate)] = result = await _load(http, arm, rate, duration, f"{arm.name} {rate}")
                if result.ok < result.sent:
                    given_up.add(arm.name)
                print(f"  {arm.name:22s} {rate:5.0f} req/s: {result.ok}/{result.sent} ok, "
                      f"p50 {result.pct(0.5):8.2f} ms, p99 {result.pct(0.99):8.2f} ms", flush=True)
    return out


def _report(arms: list[Arm], rates: list[float], results: dict[tuple[str, float], Result]) -> None:
    direct = "fake direct"
    print("\nper-request overhead vs the fake called directly (ms; p99 in brackets; * = failures)")
    print(f"  {'arm':22s} " + " ".join(f"{r:>20.0f}/s" for r in rates) + "   sustained (p99 ovh < 50 ms)")
    p50_ovh: dict[str, dict[float, float]] = {}
    sustained: dict[str, float] = {}
    for arm in arms:
        cells = []
        for rate in rates:
            res, base = results[(arm.name, rate)], results[(direct, rate)]
            o50, o99 = res.pct(0.5) - base.pct(0.5), res.pct(0.99) - base.pct(0.99)
            p50_ovh.setdefault(arm.name, {})[rate] = o50
            failed = res.ok < res.sent
            if base.ok < base.sent:  # the fake itself could not keep up: no overhead to tell
                cells.append("fake saturated")
                continue
            if not failed and o99 < OVERHEAD_LIMIT_MS:
                sustained[arm.name] = max(sustained.get(arm.name, 0.0), rate)
            cells.append(f"{o50:8.2f} [{o99:8.2f}]{'*' if failed else ' '}")
        print(f"  {arm.name:22s} " + " ".join(f"{c:>22s}" for c in cells) +
              f"   {sustained.get(arm.name, 0):.0f} req/s")
    for workers in (1, 2):
        ours, theirs = f"costroute serve x{workers}", f"LiteLLM proxy x{workers}"
        if ours in p50_ovh and theirs in p50_ovh:
            ratios = [f"{r:.0f}/s: {_ratio(p50_ovh[ours][r], p50_ovh[theirs][r])}" for r in rates
                      if results[(direct, r)].ok == results[(direct, r)].sent]
            print(f"  {workers} worker(s): costroute p50 overhead / LiteLLM's = " + ", ".join(ratios) +
                  f"; sustained {sustained.get(ours, 0):.0f} vs {sustained.get(theirs, 0):.0f} req/s")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "n/a"


def _stop(arm: Arm) -> None:
    if arm.proc is not None and arm.proc.poll() is None:
        arm.proc.send_signal(signal.SIGTERM)
        try:
            arm.proc.wait(30)
        except subprocess.TimeoutExpired:
            arm.proc.kill()
            arm.proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rates", default="50,200,800", help="comma-separated req/s")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per arm and rate")
    parser.add_argument("--workers", default="1,2", help="worker counts for the proxies")
    parser.add_argument("--only", default="direct,costroute,litellm", help="arms to run")
    parser.add_argument("--litellm", default=DEFAULT_LITELLM, help="the litellm CLI of the separate venv")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    only = set(args.only.split(","))
    fake, base_url = _fake()
    arms: list[Arm] = [Arm("fake direct", base_url + "/chat/completions", "cheap")]
    starters: list[Callable[[Path], Arm]] = []
    for w in workers:
        if "costroute" in only:
            starters.append(lambda tmp, w=w: _costroute(base_url, tmp, w))
        if "litellm" in only:
            if Path(args.litellm).exists():
                starters.append(lambda tmp, w=w: _litellm(args.litellm, base_url, tmp, w))
            else:
                print(f"LiteLLM proxy not found at {args.litellm}: its arm is skipped", file=sys.stderr)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for start in starters:
                try:
                    arms.append(start(Path(tmp)))
                except SystemExit as exc:  # reported, and the other arms still run
                    print(f"an arm is skipped: {exc}", flush=True)
            print(f"{len(arms)} arms, {args.duration:.0f} s per arm and rate, open-loop; load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
            results = asyncio.run(_run(arms, rates, args.duration))
            _report(arms, rates, results)
    finally:
        for arm in arms:
            _stop(arm)
        fake.kill()
        fake.wait()


if __name__ == "__main__":
    main()
