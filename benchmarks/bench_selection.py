#!/usr/bin/env python
"""Selection and token counting as the pool and the conversation grow (costroute's own time).

    python benchmarks/bench_selection.py [--n 300] [--rounds 4]

(a) ``client.route`` for a new prompt each time, pools of 6 and 300 priced models, interleaved
    rounds: p50 in microseconds and the ratio (target: 300 models <= 3x 6 models).
(b) a 100-message conversation (~4k tokens) whose last message alone is new: prompt token
    counting with the per-message cache against counting afresh (target <= 1 ms), and the whole
    ``client.route`` (validate, count, classify, select) for scale.
Nothing is sent anywhere. A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

from costroute import Client
from costroute.router._tokens import MessageTokenCache, count_message_tokens, default_counter
from costroute.spend import MemoryLedger

_fresh = itertools.count()


def pool_config(n: int) -> dict[str, Any]:
    """``n`` priced models with qualities spread over the tiers (at most 50 distinct)."""
    spread = min(n, 50)
    models = [{
        "name": f"openai/m{i}", "api_key": "sk-bench-0000000000",
        "quality": round(0.3 + 0.65 * (i % spread) / (spread - 1), 3),
        "price": {"input_per_mtok": f"{0.1 + (i * 7919 % 300) / 10:.2f}",
                  "output_per_mtok": f"{0.4 + (i * 104729 % 300) / 5:.2f}"},
    } for i in range(n)]
    return {"models": models, "policies": {"default": {"baseline": models[-1]["name"]}}}


def _new_prompt() -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Explain point {next(_fresh)} of the history of Rome briefly."}]


def _sample(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def bench_pool(n: int, rounds: int) -> None:
    clients = {size: Client(pool_config(size), ledger=MemoryLedger()) for size in (6, 300)}
    samples: dict[int, list[float]] = {size: [] for size in clients}
    for client in clients.values():
        for _ in range(50):
            client.route(_new_prompt())
    for r in range(rounds):
        for size in (list(clients) if r % 2 == 0 else list(clients)[::-1]):
            samples[size] += _sample(lambda c=clients[size]: c.route(_new_prompt()), n // rounds)
    p50 = {size: statistics.median(v) for size, v in samples.items()}
    ratio = p50[300] / p50[6]
    print(f"(a) route, a new prompt each time: 6 models p50 {p50[6]:.0f} us, 300 models p50 {p50[300]:.0f} us: "
          f"ratio {ratio:.2f} (target <= 3: {'ok' if ratio <= 3 else 'ABOVE'})")


def bench_conversation(n: int) -> None:
    history = [{"role": "user" if i % 2 == 0 else "assistant",
                "content": f"Turn {i}: " + "some words about the topic at hand, " * 5} for i in range(99)]

    def conversation() -> list[dict[str, str]]:
        return [*history, {"role": "user", "content": f"And question {next(_fresh)} about it?"}]

    counter, cache = default_counter(), MessageTokenCache()
    tokens = count_message_tokens(conversation(), counter=counter, cache=cache)
    cached = _sample(lambda: count_message_tokens(conversation(), counter=counter, cache=cache), n)
    fresh = _sample(lambda: count_message_tokens(conversation(), counter=counter), n)
    with Client(pool_config(6), ledger=MemoryLedger()) as client:
        client.route(conversation())
        routed = _sample(lambda: client.route(conversation()), n)
    ok = statistics.median(cached) <= 1000
    print(f"(b) 100 messages ({tokens} tokens), the last one new: counting p50 {statistics.median(cached):.0f} us "
          f"with the cache, {statistics.median(fresh):.0f} us afresh (target <= 1 ms: {'ok' if ok else 'ABOVE'}); "
          f"whole route p50 {statistics.median(routed):.0f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400, help="samples per arm")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    bench_pool(args.n, args.rounds)
    bench_conversation(args.n // 2)


if __name__ == "__main__":
    main()
