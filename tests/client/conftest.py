"""Fixtures for the client tests: configs pointing at mocked providers, and a recording ledger."""

from __future__ import annotations

from typing import Any

import pytest

from costroute.spend import MemoryLedger

OPENAI_BASE = "https://api.openai.com/v1"
ANTHROPIC_BASE = "https://api.anthropic.com"
SECRET = "sk-secret-sentinel-0123456789"


def openai_reply(content: str = "Paris.", *, prompt: int = 14, completion: int = 3,
                 cached: int = 0, reasoning: int = 0, model: str = "gpt-4o-mini") -> dict[str, Any]:
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion}
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": usage,
    }


def anthropic_reply(text: str = "Paris.", *, input_tokens: int = 12, output_tokens: int = 4,
                    cache_read: int = 0, cache_write: int = 0) -> dict[str, Any]:
    return {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                  "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": cache_write},
    }


def two_model_config(**policy: Any) -> dict[str, Any]:
    """A cheap and a premium OpenAI model, both with explicit prices, and one Anthropic model."""
    return {
        "models": [
            {"name": "openai/gpt-4o-mini", "api_key": SECRET, "quality": 0.62,
             "price": {"input_per_mtok": "0.15", "output_per_mtok": "0.60"}},
            {"name": "openai/gpt-4o", "api_key": SECRET, "quality": 0.85,
             "price": {"input_per_mtok": "2.50", "output_per_mtok": "10.00"}},
            {"name": "anthropic/claude-sonnet-4-5", "api_key": SECRET, "quality": 0.93,
             "price": {"input_per_mtok": "3", "output_per_mtok": "15", "cached_input_per_mtok": "0.30",
                       "cache_write_per_mtok": "3.75"}},
        ],
        "policies": {"default": {"baseline": "openai/gpt-4o", **policy}},
    }


EASY = [{"role": "user", "content": "What is the capital of France?"}]
HARD = [{"role": "user", "content": (
    "Prove that there are infinitely many primes, then write a Python function implementing the "
    "Sieve of Eratosthenes with complexity analysis, and compare its asymptotic performance with "
    "the segmented sieve for n=10^9. Explain each step of the proof and derive the complexity.\n\n"
    # long, as hard requests tend to be: prompt length is what the default classifier measured to
    # predict need for a stronger model on unseen tasks (docs/routing.md)
    "My notes so far: trial division tests every k below n against every smaller divisor, so it does "
    "about n^2/2 divisions; the sieve crosses off the multiples of each prime p starting at p^2, which "
    "gives n log log n operations, but it needs n bits of memory, a problem at n=10^9, where the "
    "segmented version keeps only sqrt(n) bits plus one segment in memory at a time. I am not sure how "
    "to bound the cost of the segment boundaries, whether the wheel factorisation changes the asymptotic "
    "bound or only the constant, and how cache misses change the picture once a segment no longer fits "
    "in L2. Please also state the invariant each loop keeps, and give a test plan that checks the "
    "function against a slow reference for every n below 10^4 and at a few random points up to 10^7."
)}]


@pytest.fixture()
def ledger() -> MemoryLedger:
    return MemoryLedger()


@pytest.fixture()
def no_sleep() -> list[float]:
    """Collects the waits the retry loop asked for, without waiting."""
    return []
