"""A quick look at ``costroute serve``'s per-request overhead, side by side in one run.

    python benchmarks/server_overhead.py [--requests 200]

Sequential requests (one at a time, so the latency is not queueing), interleaved round by round so
the three share the machine's noise, against the loopback fake provider in a process of its own
(it shares no interpreter lock with what is measured): (1) the fake called directly over HTTP; (2)
an in-process ``AsyncClient`` (the library's own cost: routing, litellm, pricing, a SQLite
ledger); (3) ``costroute serve`` in a process of its own (the library plus the HTTP proxy, the
same kind of ledger). Reports p50/p99 and the overheads (2)-(1), (3)-(1) and (3)-(2).
The full comparison against LiteLLM's proxy at fixed rates is ``benchmarks/bench_server.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from costroute import AsyncClient


def _fake() -> tuple[subprocess.Popen[str], str]:
    code = ("import time\nfrom costroute.testing import FakeOpenAIServer\n"
            "server = FakeOpenAIServer().start()\nprint(server.base_url, flush=True)\ntime.sleep(1e9)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def _config(base_url: str, ledger: str) -> dict[str, Any]:
    return {"models": [{"name": "openai/cheap", "api_base": base_url, "api_key": "sk-bench", "quality": 0.6,
                        "price": {"input_per_mtok": 1, "output_per_mtok": 2}}],
            "cache": {"enabled": False}, "ledger": {"backend": "sqlite", "path": ledger}}


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _rounds(base_url: str, served_url: str, config: dict[str, Any], n: int) -> dict[str, list[float]]:
    """``n`` rounds of one request each way, interleaved, so the three share the machine's noise."""
    out: dict[str, list[float]] = {"fake direct": [], "AsyncClient (in process)": [], "costroute serve": []}
    library_config = {**config, "ledger": {**config["ledger"], "path": config["ledger"]["path"] + ".library"}}
    async with httpx.AsyncClient(timeout=60) as http, AsyncClient(library_config) as client:
        async def fake(i: int) -> None:
            body = {"model": "cheap", "messages": [{"role": "user", "content": f"direct #{i}"}]}
            (await http.post(base_url + "/chat/completions", json=body)).raise_for_status()

        async def library(i: int) -> None:
            await client.chat.completions.create(messages=[{"role": "user", "content": f"library #{i}"}])

        async def served(i: int) -> None:
            body = {"model": "auto", "messages": [{"role": "user", "content": f"served #{i}"}]}
            (await http.post(served_url + "/v1/chat/completions", json=body)).raise_for_status()

        ways = {"fake direct": fake, "AsyncClient (in process)": library, "costroute serve": served}
        for i in range(-5, n):  # 5 warm-up rounds
            for name, way in ways.items():
                start = time.perf_counter()
                await way(i)
                if i >= 0:
                    out[name].append(time.perf_counter() - start)
    return out


def _serve(config_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "from costroute.cli import main; main()", "serve", "--config",
                             str(config_path), "--port", str(port), "--log-level", "warning"],
                            env=dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("costroute serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    n = parser.parse_args().requests
    fake, base_url = _fake()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = _config(base_url, str(Path(tmp) / "ledger.db"))
            path = Path(tmp) / "costroute.yaml"
            path.write_text(yaml.safe_dump(config))
            proc, url = _serve(path)
            try:
                rows = asyncio.run(_rounds(base_url, url, config, n))
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    finally:
        fake.kill()
        fake.wait()
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    print(f"{n} sequential non-stream requests each, interleaved (serve on uvicorn with {loop} and {http})")
    for name, samples in rows.items():
        print(f"  {name:26s} p50 {_pct(samples, 0.5):7.2f} ms   p99 {_pct(samples, 0.99):7.2f} ms   "
              f"mean {statistics.fmean(samples) * 1000:7.2f} ms")
    p50 = {name: _pct(samples, 0.5) for name, samples in rows.items()}
    print(f"  overhead p50: library {p50['AsyncClient (in process)'] - p50['fake direct']:.2f} ms, "
          f"serve {p50['costroute serve'] - p50['fake direct']:.2f} ms "
          f"(of which the HTTP proxy {p50['costroute serve'] - p50['AsyncClient (in process)']:.2f} ms)")


if __name__ == "__main__":
    main()
