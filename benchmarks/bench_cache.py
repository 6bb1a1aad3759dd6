"""Cache latency: get/set p50/p99 per backend, and the cost of the lookup path.

    python benchmarks/bench_cache.py [--n 2000]

Starts its own redis-server on a free loopback port (skipped if the binary is missing) and
uses a temporary SQLite file. Prints microseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from costroute.cache import (
    CacheConfig,
    CacheEntry,
    CacheStore,
    MemoryCacheStore,
    RedisCacheStore,
    ResponseCache,
    SQLiteCacheStore,
    cache_key,
    is_cacheable,
    routed_target,
)

REQUEST: dict[str, Any] = {
    "model": "auto",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant. " * 20},
        {"role": "user", "content": "Explain the difference between TCP and UDP. " * 10},
    ],
    "temperature": 0,
    "max_tokens": 512,
}
RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "TCP is connection-oriented. " * 60},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 180, "completion_tokens": 420, "total_tokens": 600},
}


def _entry(i: int) -> CacheEntry:
    return CacheEntry.create(
        key=f"cr1:{i:064x}", namespace="bench", model="gpt-4o-mini", model_quality=0.7,
        response=RESPONSE, usage=RESPONSE["usage"], cost_usd="0.000279",
        created_at=time.time(), expires_at=time.time() + 3600, finish_reason="stop",
    )  # fmt: skip


def _timed(fn: Callable[[int], object], n: int) -> tuple[float, float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def _report(name: str, p50: float, p99: float) -> None:
    print(f"  {name:<34} p50 {p50:9.1f} us   p99 {p99:9.1f} us")


@contextlib.contextmanager
def _redis_server() -> Iterator[str | None]:
    exe = shutil.which("redis-server")
    if exe is None:
        yield None
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(10)


def bench_store(name: str, store: CacheStore, n: int) -> None:
    entries = [_entry(i) for i in range(n)]
    print(f"{name} (entry {entries[0].size_bytes} bytes, {n} ops)")
    _report("set", *_timed(lambda i: store.set(entries[i]), n))
    _report("get (hit)", *_timed(lambda i: store.get(entries[i].key), n))
    _report("get (miss)", *_timed(lambda i: store.get(f"cr1:missing-{i}"), n))
    store.close()


def bench_lookup_path(n: int) -> None:
    print(f"lookup path (pure parts and the memory-backed facade, {n} ops)")
    _report("is_cacheable", *_timed(lambda i: is_cacheable(REQUEST), n))
    target = routed_target("default")
    _report(
        "cache_key",
        *_timed(lambda i: cache_key(REQUEST, policy="default", namespace="u", target=target), n),
    )
    cache = ResponseCache(MemoryCacheStore(), CacheConfig())
    kw: dict[str, Any] = {"policy": "default", "namespace": "u", "pinned_model": None}
    _report("ResponseCache.lookup (miss)", *_timed(
        lambda i: cache.lookup(REQUEST, required_quality=0.5, **kw), n))  # fmt: skip
    cache.store(
        REQUEST,
        model="m",
        model_quality=0.7,
        response_dict=RESPONSE,
        usage_dict=RESPONSE["usage"],
        cost_usd="0.001",
        finish_reason="stop",
        **kw,
    )
    _report("ResponseCache.lookup (hit)", *_timed(
        lambda i: cache.lookup(REQUEST, required_quality=0.5, **kw), n))  # fmt: skip
    _report("ResponseCache.store", *_timed(
        lambda i: cache.store(REQUEST, model="m", model_quality=0.7, response_dict=RESPONSE,
                              usage_dict=RESPONSE["usage"], cost_usd="0.001",
                              finish_reason="stop", **kw), n))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    n = parser.parse_args().n
    bench_lookup_path(n)
    bench_store("memory", MemoryCacheStore(), n)
    with tempfile.TemporaryDirectory() as tmp:
        bench_store("sqlite", SQLiteCacheStore(Path(tmp) / "cache.sqlite3"), n)
    with _redis_server() as url:
        if url is None:
            print("redis: redis-server not installed, skipped")
        else:
            bench_store("redis", RedisCacheStore(url), n)


if __name__ == "__main__":
    main()
