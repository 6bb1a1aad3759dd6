#!/usr/bin/env python
"""The client's hit and miss paths at an earlier commit and now, side by side in one run.

    python benchmarks/bench_before_after.py --before 4854a2d^ [--rounds 5] [--n 1000]

Checks ``--before`` out into a temporary git worktree, then runs this checkout's
``bench_client_paths.py`` against the earlier code and against this checkout's, alternately
(before, now, before, now, ...), so both see the same machine. Prints, per path, the median over
rounds of each side's p50 and the ratio now / before (below 1.00: faster now). A script that prints
figures, not a test.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_client_paths.py"
LINE = re.compile(r"^\s+(?P<name>.+?)\s+p50\s+(?P<p50>[\d.]+) us")
RATE = re.compile(r"^async cache hits, 64 concurrent tasks: (?P<rate>[\d,]+) requests/s")


def run(src: Path, n: int) -> dict[str, float]:
    """One run of the paths benchmark with ``src`` first on the path: p50 per path (us), rate."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, str(SCRIPT), "--n", str(n)], env=env, check=True,
                         capture_output=True, text=True).stdout
    figures: dict[str, float] = {}
    for line in out.splitlines():
        if m := LINE.match(line):
            figures[m["name"]] = float(m["p50"])
        elif m := RATE.match(line):
            figures["async hits, 64 tasks (req/s)"] = float(m["rate"].replace(",", ""))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the earlier commit (any git revision)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="costroute-before-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), args.before],
                       check=True)
        try:
            sides: dict[str, list[dict[str, float]]] = {"before": [], "now": []}
            for r in range(args.rounds):
                for side, src in (("before", tree / "src"), ("now", ROOT / "src")):
                    sides[side].append(run(src, args.n))
                print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)
    print(f"median over {args.rounds} alternating rounds of each side's p50 (us); before = {args.before}")
    print(f"  {'path':<54} {'before':>9} {'now':>9} {'now/before':>11}")
    for name in sides["now"][0]:
        if not all(name in f for f in sides["before"]):
            continue
        before = statistics.median(f[name] for f in sides["before"])
        now = statistics.median(f[name] for f in sides["now"])
        print(f"  {name:<54} {before:>9.1f} {now:>9.1f} {now / before:>10.2f}x")


if __name__ == "__main__":
    main()
