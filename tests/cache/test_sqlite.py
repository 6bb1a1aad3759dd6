"""SQLite specifics: private files, persistence, several processes, and kill -9 mid-write."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from costroute.cache import CacheEntry, SQLiteCacheStore

from .conftest import SENTINEL, make_entry

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys
    from costroute.cache import CacheEntry, SQLiteCacheStore

    path, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = SQLiteCacheStore(path, max_entries=50, max_bytes=64 * 1024 * 1024)
    for i in range(count):
        text = f"{tag}-{i}-" + "x" * (200_000 + i)
        response = {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}],
                    "usage": {"total_tokens": 1}}
        store.set(CacheEntry.create(
            key=f"cr1:{tag}:{i % 80}", namespace=tag, model="m", model_quality=0.5,
            response=response, usage=response["usage"], cost_usd="0", created_at=1.0,
            expires_at=None, finish_reason="stop"))
        if i == 0:
            print("ready", flush=True)
    store.close()
    """
)


def _spawn(path: Path, tag: str, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), tag, str(count)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _assert_readable(path: Path) -> int:
    """Every row decodes, the totals match the rows, and SQLite finds no damage."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute("SELECT key, blob, size FROM entries").fetchall()
        totals = conn.execute("SELECT entries, bytes FROM totals").fetchone()
    finally:
        conn.close()
    for key, blob, size in rows:
        assert CacheEntry.from_bytes(bytes(blob), key=key).size_bytes == size
    assert totals == (len(rows), sum(r[2] for r in rows))
    store = SQLiteCacheStore(path)
    try:
        for key, _, _ in rows:
            assert store.get(key) is not None
        store.set(make_entry("cr1:after-crash"))
        assert store.get("cr1:after-crash") is not None
    finally:
        store.close()
    return len(rows)


def test_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "cache.sqlite3"
    store = SQLiteCacheStore(path)
    store.set(make_entry("cr1:a"))
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for file in path.parent.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert {p.name for p in path.parent.iterdir()} >= {"cache.sqlite3", "cache.sqlite3-wal"}
    store.close()


def test_an_existing_loose_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    SQLiteCacheStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_wal_and_persistence_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    store = SQLiteCacheStore(path)
    store.set(make_entry("cr1:kept"))
    assert store._conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    store.close()
    again = SQLiteCacheStore(path)
    assert again.get("cr1:kept") == make_entry("cr1:kept")
    assert again.stats().entries == 1
    again.close()


def test_no_api_key_in_the_file(tmp_path: Path) -> None:
    from costroute.cache import CacheConfig, ResponseCache

    path = tmp_path / "cache.sqlite3"
    cache = ResponseCache(SQLiteCacheStore(path), CacheConfig())
    request = {"messages": [{"role": "user", "content": "hi"}], "temperature": 0,
               "api_key": SENTINEL, "api_base": f"https://{SENTINEL}.example"}  # fmt: skip
    response = make_entry().response | {"_hidden_params": {"api_key": SENTINEL}}
    stored = cache.store(
        request, policy="p", namespace="n", pinned_model=None, model="m", model_quality=0.5,
        response_dict=response, usage_dict=response["usage"], cost_usd="0.1",
        finish_reason="stop",
    )  # fmt: skip
    assert stored is not None
    cache.backend.close()
    for file in tmp_path.iterdir():
        assert SENTINEL.encode() not in file.read_bytes(), file


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    SQLiteCacheStore(path).close()
    procs = [_spawn(path, tag, 40) for tag in ("p1", "p2")]
    for proc in procs:
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    assert _assert_readable(path) == 50  # max_entries held across both writers


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.05, 0.2, 0.5])
def test_kill_9_mid_write_leaves_a_readable_cache(tmp_path: Path, delay: float) -> None:
    path = tmp_path / "cache.sqlite3"
    proc = _spawn(path, "k", 10_000)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    assert proc.poll() is None, "the writer finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert _assert_readable(path) >= 1
