"""Provider prompt caching, as the loopback fake reports it (``FakeOpenAIServer(prompt_cache=True)``).

Two shapes, as the providers bill them:

* OpenAI chat (automatic): a prompt that starts with the tools and messages of a prompt the same
  model saw before reports that common prefix as ``prompt_tokens_details.cached_tokens`` (counted
  like the fake counts prompts), once it reaches 1,024 tokens, in 128-token steps;
* Anthropic Messages (``POST .../messages``, explicit): the prefix up to the last block marked
  ``cache_control`` (tools, then system, then messages) is written on first sight
  (``cache_creation_input_tokens``) and read afterwards (``cache_read_input_tokens``), once it
  reaches 1,024 tokens; ``input_tokens`` is the rest.

Entries never expire here (a test that needs expiry starts a new server). Deterministic.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from typing import Any

__all__ = ["MIN_CACHED_TOKENS", "PrefixCache", "anthropic_answer", "anthropic_tokens", "last_text"]

MIN_CACHED_TOKENS = 1024
_STEP = 128
_KEPT = 64  # prompts remembered per model


def _tokens(parts: list[Any]) -> int:
    """The fake's count of a prompt made of ``parts``: ~4 characters a token, 4 per part."""
    text = "".join(json.dumps(p, sort_keys=True) for p in parts)
    return 3 + 4 * len(parts) + (len(text) + 3) // 4


class PrefixCache:
    """What the fake's "provider" caches, per model. Thread-safe."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[list[str]]] = {}
        self._marked: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def openai(self, model: str, body: dict[str, Any]) -> tuple[int, int]:
        """(prompt tokens, cached tokens) of an OpenAI chat request."""
        parts: list[Any] = [{"tools": body["tools"]}] if body.get("tools") else []
        parts += list(body.get("messages") or [])
        keyed = [json.dumps(p, sort_keys=True) for p in parts]
        with self._lock:
            seen = self._seen.setdefault(model, deque(maxlen=_KEPT))
            common = max((_common(keyed, old) for old in seen), default=0)
            seen.append(keyed)
        prompt = _tokens(parts)
        cached = _tokens(parts[:common]) if common else 0
        if cached < MIN_CACHED_TOKENS:
            return prompt, 0
        return prompt, min(prompt, cached - cached % _STEP)

    def anthropic(self, model: str, body: dict[str, Any]) -> dict[str, int]:
        """The ``usage`` of an Anthropic Messages request: input, cache reads and cache writes."""
        parts = _anthropic_parts(body)
        total = _tokens(parts)
        last = max((i for i, p in enumerate(parts) if isinstance(p, dict) and "cache_control" in p), default=-1)
        usage = {"input_tokens": total, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
        if last < 0:
            return usage
        prefix = [_unmarked(p) for p in parts[:last + 1]]
        size = _tokens(prefix)
        if size < MIN_CACHED_TOKENS:
            return usage
        digest = hashlib.sha256(json.dumps(prefix, sort_keys=True).encode()).hexdigest()
        with self._lock:
            hit = (model, digest) in self._marked
            self._marked.add((model, digest))
        usage["input_tokens"] = max(0, total - size)
        usage["cache_read_input_tokens" if hit else "cache_creation_input_tokens"] = size
        return usage


def _common(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _unmarked(part: Any) -> Any:
    return {k: v for k, v in part.items() if k != "cache_control"} if isinstance(part, dict) else part


def _anthropic_parts(body: dict[str, Any]) -> list[Any]:
    """Tools, system blocks, then each message's content blocks: the order Anthropic caches in."""
    parts: list[Any] = list(body.get("tools") or [])
    system = body.get("system")
    parts += [{"type": "text", "text": system}] if isinstance(system, str) else list(system or [])
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            parts.append({"role": message.get("role"), "text": content})
        else:
            parts += [{"role": message.get("role"), **b} if isinstance(b, dict) else b for b in content or []]
    return parts


def anthropic_tokens(body: dict[str, Any]) -> int:
    """The fake's count of an Anthropic request's whole prompt."""
    return _tokens(_anthropic_parts(body))


def anthropic_answer(body: dict[str, Any], text: str, usage: dict[str, int]) -> dict[str, Any]:
    """An Anthropic Messages response carrying ``text``."""
    return {
        "id": "msg_fake", "type": "message", "role": "assistant", "model": body.get("model"),
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": usage,
    }


def last_text(body: dict[str, Any]) -> str:
    """The text of an Anthropic request's last message (what a scripted answer is asked)."""
    messages = body.get("messages") or []
    content = messages[-1].get("content") if messages else ""
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return str(content or "")
