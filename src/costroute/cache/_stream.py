"""Streaming, both ways, as pure functions over chunk dicts.

``replay_chunks`` turns a cached ``chat.completion`` into ``chat.completion.chunk`` dicts so a
hit can be served to a streaming caller. ``StreamAccumulator`` rebuilds a ``chat.completion``
from a live stream; it is ``complete`` only once every choice has a ``finish_reason`` and a
usage chunk arrived, and an incomplete stream must never be stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from costroute._frozen import thaw
from costroute.cache._entry import CacheEntry

__all__ = ["StreamAccumulator", "replay_chunks", "replay_response"]

_PIECES = 4  # content is replayed in up to this many chunks per choice


def _split(text: str, pieces: int = _PIECES) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]


def replay_chunks(entry: CacheEntry) -> list[dict[str, Any]]:
    """The chunks a provider would have streamed for ``entry.response``: per choice a role
    chunk, the content in a few pieces, the tool calls, a chunk with the ``finish_reason``;
    then one usage chunk with no choices. The chunks share nothing with the entry."""
    return _chunks(thaw(entry.response), int(entry.created_at), entry.model, entry.usage)


def replay_response(response: Any) -> list[dict[str, Any]]:
    """:func:`replay_chunks` for a response object (or its JSON form) that is not in the cache
    (a cascade's accepted answer, streamed once it has been verified)."""
    dump = getattr(response, "model_dump", None)
    data = dump() if callable(dump) else dict(response)
    return _chunks(data, int(data.get("created") or 0), str(data.get("model") or ""), data.get("usage") or {})


def _chunks(response: dict[str, Any], created: int, model: str, usage: Any) -> list[dict[str, Any]]:
    base: dict[str, Any] = {
        "id": response.get("id", ""),
        "object": "chat.completion.chunk",
        "created": response.get("created", created),
        "model": response.get("model", model),
    }
    if response.get("system_fingerprint") is not None:
        base["system_fingerprint"] = response["system_fingerprint"]

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {**base, "choices": choices, **extra}

    chunks: list[dict[str, Any]] = []
    for position, choice in enumerate(response.get("choices") or []):
        index = choice.get("index", position)
        message = choice.get("message") or {}
        # as providers send it: "" opens a text answer, null one made only of tool calls
        first: dict[str, Any] = {"role": message.get("role", "assistant"),
                                 "content": None if message.get("content") is None else ""}
        chunks.append(chunk([{"index": index, "delta": first, "finish_reason": None}]))
        for name in ("reasoning_content", "content"):
            for piece in _split(message.get(name) or ""):
                delta: dict[str, Any] = {name: piece}
                chunks.append(chunk([{"index": index, "delta": delta, "finish_reason": None}]))
        if message.get("refusal"):
            delta = {"refusal": message["refusal"]}
            chunks.append(chunk([{"index": index, "delta": delta, "finish_reason": None}]))
        calls = message.get("tool_calls") or []
        if calls:
            deltas = [{"index": i, **call} for i, call in enumerate(calls)]
            delta = {"tool_calls": deltas}
            chunks.append(chunk([{"index": index, "delta": delta, "finish_reason": None}]))
        last = {"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")}
        if choice.get("logprobs") is not None:
            last["logprobs"] = choice["logprobs"]
        chunks.append(chunk([last]))
    chunks.append(chunk([], usage=thaw(response.get("usage") or usage)))
    return chunks


@dataclass
class _Call:
    id: str | None = None
    type: str = "function"
    name: str = ""
    arguments: str = ""


@dataclass
class _Choice:
    role: str = "assistant"
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    finish_reason: str | None = None
    logprobs: dict[str, list[Any]] = field(default_factory=dict)  # "content" / "refusal" token lists


def _as_dict(chunk: Mapping[str, Any] | Any) -> Mapping[str, Any]:
    if isinstance(chunk, Mapping):
        return chunk
    dump = getattr(chunk, "model_dump", None)
    if callable(dump):
        dumped = dump()
        if isinstance(dumped, Mapping):
            return dumped
    raise TypeError(f"not a chat.completion.chunk: {type(chunk).__name__}")


class StreamAccumulator:
    """Feed it every chunk (dicts or objects with ``model_dump()``), then ask ``response()``.

    ``complete`` is true only when each of the ``expected_choices`` choices saw a
    ``finish_reason`` and a ``usage`` arrived; ``response()`` returns ``None`` otherwise.
    """

    def __init__(self, *, expected_choices: int = 1) -> None:
        self._expected = max(1, expected_choices)
        self._choices: dict[int, _Choice] = {}
        self._usage: dict[str, Any] | None = None
        self._meta: dict[str, Any] = {}

    def feed(self, chunk: Mapping[str, Any] | Any) -> None:
        data = _as_dict(chunk)
        for name in ("id", "created", "model", "system_fingerprint"):
            if data.get(name) and name not in self._meta:
                self._meta[name] = data[name]
        usage = data.get("usage")
        if usage:
            self._usage = dict(_as_dict(usage))
        for raw in data.get("choices") or []:
            self._feed_choice(_as_dict(raw))

    def _feed_choice(self, raw: Mapping[str, Any]) -> None:
        choice = self._choices.setdefault(int(raw.get("index") or 0), _Choice())
        delta = _as_dict(raw.get("delta") or {})
        if delta.get("role"):
            choice.role = str(delta["role"])
        for name, parts in (
            ("content", choice.content),
            ("reasoning_content", choice.reasoning),
            ("refusal", choice.refusal),
        ):
            if delta.get(name):
                parts.append(str(delta[name]))
        for position, raw_call in enumerate(delta.get("tool_calls") or []):
            call_delta = _as_dict(raw_call)
            index = call_delta.get("index")
            call = choice.calls.setdefault(position if index is None else int(index), _Call())
            if call_delta.get("id"):
                call.id = str(call_delta["id"])
            if call_delta.get("type"):
                call.type = str(call_delta["type"])
            function = _as_dict(call_delta.get("function") or {})
            call.name += str(function.get("name") or "")
            call.arguments += str(function.get("arguments") or "")
        logprobs = raw.get("logprobs")
        if logprobs:
            for name, tokens in _as_dict(logprobs).items():
                if isinstance(tokens, list):
                    choice.logprobs.setdefault(name, []).extend(dict(_as_dict(t)) for t in tokens)
        if raw.get("finish_reason"):
            choice.finish_reason = str(raw["finish_reason"])

    @property
    def complete(self) -> bool:
        return (
            self._usage is not None
            and len(self._choices) >= self._expected
            and all(c.finish_reason for c in self._choices.values())
        )

    @property
    def usage(self) -> dict[str, Any] | None:
        return None if self._usage is None else dict(self._usage)

    @property
    def finish_reason(self) -> str | None:
        """The first choice's ``finish_reason`` (``None`` until it arrives)."""
        first = self._choices.get(min(self._choices)) if self._choices else None
        return None if first is None else first.finish_reason

    def response(self) -> dict[str, Any] | None:
        """The rebuilt ``chat.completion``, or ``None`` if the stream is not complete."""
        if not self.complete:
            return None
        choices = []
        for index in sorted(self._choices):
            c = self._choices[index]
            message: dict[str, Any] = {"role": c.role, "content": "".join(c.content) or None}
            if c.reasoning:
                message["reasoning_content"] = "".join(c.reasoning)
            if c.refusal:
                message["refusal"] = "".join(c.refusal)
            if c.calls:
                message["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": call.type,
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for _, call in sorted(c.calls.items())
                ]
            choice: dict[str, Any] = {"index": index, "message": message, "finish_reason": c.finish_reason}
            if c.logprobs:
                choice["logprobs"] = {name: list(tokens) for name, tokens in c.logprobs.items()}
            choices.append(choice)
        return {
            "id": self._meta.get("id", ""),
            "object": "chat.completion",
            "created": self._meta.get("created", 0),
            "model": self._meta.get("model", ""),
            **(
                {"system_fingerprint": self._meta["system_fingerprint"]}
                if "system_fingerprint" in self._meta
                else {}
            ),
            "choices": choices,
            "usage": dict(self._usage or {}),
        }
