"""Spend queries at ledger scale: ``spend.summary`` and ``costroute spend --by model``.

    python benchmarks/bench_ledger.py [--records 1000000] [--repeat 5]

Builds a SQLite ledger of ``--records`` records (bulk insert in one transaction, rows made
directly, so building takes seconds), then times, side by side in one run:

- ``SQLiteLedger.summary(group_by=["model"])`` and ``summary()`` (best and median of ``--repeat``),
- the command ``costroute spend --by model --ledger FILE`` (its console script's code; wall time
  of a fresh process, which includes the CLI's import time),
- ``python -c "import costroute.cli"`` alone (the import share of the command).

Targets (issue #13): summary <= 100 ms and the command <= 0.5 s at 1M records.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from costroute.spend import SQLiteLedger, _sqlite_ledger
from costroute.spend._sql import COLUMNS, micros_from_utc
from costroute.spend._sqlite import SQLiteFile

MODELS = ["gpt-4o-mini", "gpt-4o", "claude-haiku-4-5", "claude-sonnet-4-5", "gemini-2.5-flash"]
POLICIES = ["default", "cheap", "quality"]
USERS = [f"u{i}" for i in range(50)]


def build(path: Path, n: int) -> float:
    """Fill a new ledger with ``n`` records over the last 30 days: a schema-3 ledger (before
    rollups) filled in one bulk transaction, then opened, which migrates it (the rollups are
    backfilled in one pass: the upgrade path of an existing ledger). Returns the bulk-insert
    seconds; the migration's are printed by :func:`main`."""
    SQLiteFile(path, component="ledger", migrations=_sqlite_ledger._MIGRATIONS[:3]).close()
    rnd = random.Random(7)
    now = datetime.now(timezone.utc)
    start = micros_from_utc(now - timedelta(days=30))
    span = 30 * 86_400 * 1_000_000
    cols = ", ".join(COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    t0 = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")

    def rows() -> object:
        for i in range(n):
            cost = rnd.randrange(1, 5000)
            retry = i % 20 == 19  # one record in 20 is the second attempt of the request before
            tags = json.dumps({"user": rnd.choice(USERS)})
            yield (
                f"req-{i - retry}", int(retry), start + rnd.randrange(span), rnd.choice(MODELS), "openai",
                "error" if retry else "ok",
                rnd.choice(POLICIES), "standard", None, 100, 0, 0, 20, 0, cost, cost * 3, cost * 2,
                None, None, "sheet", 12.5, tags, "h", None, "", 0, "default", "", "answer", 0, "",
                "", None,
            )

    conn.executemany(f"INSERT INTO spend_records ({cols}) VALUES ({marks})", rows())  # type: ignore[arg-type]
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - t0


def timed(fn: object, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times) * 1000, statistics.median(times) * 1000


_CLI = "import sys; from costroute.cli import main; sys.argv[0] = 'costroute'; main()"  # the console script


def run_cli(args: list[str], repeat: int) -> tuple[float, float]:
    env = dict(os.environ)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
    return min(times) * 1000, statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="costroute-bench-ledger-") as tmp:
        path = Path(tmp) / "ledger.sqlite3"
        built = build(path, args.records)
        t0 = time.perf_counter()
        ledger = SQLiteLedger(path)  # migrates to the rollups
        migrated = time.perf_counter() - t0
        print(f"built a {args.records:,}-record ledger in {built:.1f} s, rolled up by the migration in"
              f" {migrated:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)")
        rows = ledger.summary(group_by=["model"])
        assert sum(r.attempts for r in rows) == args.records
        assert rows == ledger.scan_summary(group_by=["model"])
        best, med = timed(lambda: ledger.scan_summary(group_by=["model"]), 1)
        print(f"full scan, group_by=[model] (before)  once {best:8.1f} ms")
        best, med = timed(lambda: ledger.summary(group_by=["model"]), args.repeat)
        ok = "ok" if best <= 100 else "ABOVE TARGET"
        print(f"summary(group_by=[model])            best {best:8.1f} ms  median {med:8.1f} ms"
              f"  (target <= 100 ms: {ok})")
        best, med = timed(lambda: ledger.summary(), args.repeat)
        print(f"summary()                            best {best:8.1f} ms  median {med:8.1f} ms")
        ledger.close()
        best, med = run_cli(["-c", _CLI, "spend", "--by", "model", "--ledger", str(path)], args.repeat)
        ok = "ok" if best <= 500 else "ABOVE TARGET"
        print(f"costroute spend --by model           best {best:8.1f} ms  median {med:8.1f} ms"
              f"  (target <= 500 ms: {ok})")
        best, med = run_cli(["-c", "import costroute.cli"], args.repeat)
        print(f"python -c 'import costroute.cli'     best {best:8.1f} ms  median {med:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
