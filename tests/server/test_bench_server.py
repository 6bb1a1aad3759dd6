"""benchmarks/bench_server.py's harness, run with its direct arm only (quick)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_server.py"


def test_the_harness_loads_the_fake_open_loop_and_prints_the_table() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--only", "direct", "--rates", "20", "--duration", "1"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"fake direct +20 req/s: 20/20 ok, p50 +[\d.]+ ms", out.stdout), out.stdout
    assert "per-request overhead vs the fake called directly" in out.stdout
    assert "sustained (p99 ovh < 50 ms)" in out.stdout
