"""Checking a request before any money is spent: messages, parameters, tags.

Pure functions; every error says what is wrong and where (``messages[2].role``). A request must
have a JSON form (what a provider receives): no value of another type, no NaN or infinity, no
lone surrogate in a string, nothing nested deeper than :data:`MAX_DEPTH`.

Parameters are OpenAI's chat-completions parameters (as the OpenAI SDK takes them) and costroute's
own; anything else is refused by name, as the OpenAI SDK refuses it: provider-specific fields go
in ``extra_body={...}``, which is passed to the provider as given (after the same JSON check).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

from ._errors import RequestValidationError

__all__ = [
    "MAX_DEPTH", "PARAMETERS", "ROLES", "check_json_form", "validate_messages", "validate_params", "validate_tags",
    "validate_timeout",
]

#: OpenAI chat-completions parameters a request may carry (besides ``messages``, ``model`` and
#: ``stream``), and ``thinking`` (litellm translates it for Anthropic, Gemini and others).
PARAMETERS = frozenset({
    "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
    "max_completion_tokens", "max_tokens", "metadata", "modalities", "n", "parallel_tool_calls",
    "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_retention", "reasoning_effort",
    "response_format", "safety_identifier", "seed", "service_tier", "stop", "store", "stream_options",
    "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity",
    "web_search_options", "extra_headers", "extra_query", "extra_body", "thinking",
})
#: How deep a request's values may nest (a message is 2 levels, a content part 4).
MAX_DEPTH = 64
_MAX_INT_BITS = 14_000  # about the 4,300 digits Python writes by default
#: Parameters whose value may be an object litellm turns into JSON itself (a pydantic class).
_OBJECT_PARAMS = frozenset({"response_format"})

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_MAX_TOKENS = 2_000_000

# name -> (low, high, integral)
_RANGES: dict[str, tuple[float, float, bool]] = {
    "temperature": (0.0, 2.0, False),
    "top_p": (0.0, 1.0, False),
    "presence_penalty": (-2.0, 2.0, False),
    "frequency_penalty": (-2.0, 2.0, False),
    "max_tokens": (1, _MAX_TOKENS, True),
    "max_completion_tokens": (1, _MAX_TOKENS, True),
    "n": (1, 128, True),
    "top_logprobs": (0, 20, True),
    "seed": (-(2**63), 2**63 - 1, True),
}
_PART_TYPES = frozenset({"text", "image_url", "input_audio", "file", "image", "input_image", "refusal"})


def validate_messages(messages: Any) -> list[dict[str, Any]]:
    """The messages as a list of plain dicts, or a ``RequestValidationError`` naming the bad one."""
    if isinstance(messages, str | bytes) or not isinstance(messages, list | tuple):
        raise RequestValidationError(
            f"must be a list of messages, not {type(messages).__name__}", location="messages"
        )
    if not messages:
        raise RequestValidationError("must contain at least one message", location="messages")
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, Mapping):
            raise RequestValidationError(
                f"must be a mapping with 'role' and 'content', not {type(message).__name__}",
                location=where,
            )
        role = message.get("role")
        if role is None:
            raise RequestValidationError("is missing 'role'", location=where)
        if role not in ROLES:
            raise RequestValidationError(
                f"unknown role {role!r} (expected one of {', '.join(sorted(ROLES))})",
                location=f"{where}.role",
            )
        if "content" not in message and not message.get("tool_calls"):
            raise RequestValidationError("is missing 'content'", location=where)
        _check_content(message.get("content"), role, bool(message.get("tool_calls")), where)
        if role == "tool" and not message.get("tool_call_id"):
            raise RequestValidationError("a tool message needs 'tool_call_id'", location=where)
        check_json_form(message, where)
        out.append(dict(message))
    return out


def _check_content(content: Any, role: str, has_tool_calls: bool, where: str) -> None:
    loc = f"{where}.content"
    if content is None:
        if role == "assistant" and has_tool_calls:
            return
        raise RequestValidationError("is None", location=loc)
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise RequestValidationError(
            f"must be a string or a list of parts, not {type(content).__name__}", location=loc
        )
    if not content:
        raise RequestValidationError("is an empty list of parts", location=loc)
    for j, part in enumerate(content):
        if not isinstance(part, Mapping) or part.get("type") not in _PART_TYPES:
            raise RequestValidationError(
                f"must be a part with a 'type' among {', '.join(sorted(_PART_TYPES))}",
                location=f"{loc}[{j}]",
            )
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise RequestValidationError("a text part needs a string 'text'", location=f"{loc}[{j}]")


def check_json_form(value: Any, where: str) -> None:
    """Raise a ``RequestValidationError`` naming the first place in ``value`` with no JSON form:
    another type, a non-string key, NaN or infinity, a lone surrogate, too deep a nesting.
    (Subclasses of ``str``, ``int`` and ``float``, such as enums, count as their base type.)"""
    todo: list[tuple[Any, str, int]] = [(value, where, 0)]
    while todo:
        item, loc, depth = todo.pop()
        if isinstance(item, str):
            _check_text(item, loc)
        elif item is None or isinstance(item, int):  # bool is an int
            if item is not None and item.bit_length() > _MAX_INT_BITS:
                raise RequestValidationError("is a number too long to write as JSON", location=loc)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise RequestValidationError(f"must be a finite number, not {item!r}", location=loc)
        elif depth >= MAX_DEPTH:
            raise RequestValidationError(f"nests deeper than {MAX_DEPTH} levels", location=loc)
        elif isinstance(item, Mapping):
            for key, sub in item.items():
                if isinstance(key, str):
                    _check_text(key, loc)
                elif not (key is None or isinstance(key, int) or (isinstance(key, float) and math.isfinite(key))):
                    raise RequestValidationError(  # JSON writes number, bool and null keys as strings
                        f"has a key of type {type(key).__name__}, which has no JSON form", location=loc)
                name = str(key)
                todo.append((sub, f"{loc}.{name}" if name.isidentifier() else f"{loc}[{key!r}]", depth + 1))
        elif isinstance(item, list | tuple):
            todo += [(sub, f"{loc}[{i}]", depth + 1) for i, sub in enumerate(item)]
        else:
            raise RequestValidationError(f"a {type(item).__name__} has no JSON form", location=loc)


def _check_text(text: str, loc: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RequestValidationError(
            f"holds a lone surrogate (U+{ord(text[exc.start]):04X}) at character {exc.start}, which has no "
            "UTF-8 form", location=loc) from None


def validate_params(params: Mapping[str, Any]) -> None:
    """Reject unknown parameters, values with no JSON form, and absurd values (negative
    ``max_tokens``, ``temperature=7``, NaN...)."""
    for name, value in params.items():
        if name not in PARAMETERS:
            close = difflib.get_close_matches(name, sorted(PARAMETERS), n=1, cutoff=0.7)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise RequestValidationError(
                f"unknown parameter; {hint}send provider-specific fields in extra_body={{...}}", location=name)
        if name in _OBJECT_PARAMS and not isinstance(value, Mapping):
            continue
        check_json_form(value, name)
    body = params.get("extra_body")
    if body is not None and not isinstance(body, Mapping):
        raise RequestValidationError(f"must be a mapping, not {type(body).__name__}", location="extra_body")
    for name, (low, high, integral) in _RANGES.items():
        if name not in params or params[name] is None:
            continue
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RequestValidationError(f"must be a number, not {type(value).__name__}", location=name)
        if integral and not isinstance(value, int):
            raise RequestValidationError(f"must be a whole number, not {value!r}", location=name)
        if isinstance(value, float) and not math.isfinite(value):
            raise RequestValidationError(f"must be finite, not {value!r}", location=name)
        if not low <= value <= high:
            raise RequestValidationError(f"must be between {low} and {high}, not {value!r}", location=name)
    stop = params.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops) or len(stops) > 16:
            raise RequestValidationError("must be a string or a list of at most 16 strings", location="stop")
    tools = params.get("tools")
    if tools is not None and (not isinstance(tools, list) or not all(isinstance(t, Mapping) for t in tools)):
        raise RequestValidationError("must be a list of tool definitions", location="tools")


def validate_tags(tags: Any) -> dict[str, str]:
    """Tags are a flat mapping of short strings to short strings."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise RequestValidationError(f"must be a mapping, not {type(tags).__name__}", location="tags")
    out: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key or len(key) > 64:
            raise RequestValidationError("keys must be non-empty strings of at most 64 characters",
                                         location=f"tags[{key!r}]")
        if not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > 256:
            raise RequestValidationError("values must be strings of at most 256 characters",
                                         location=f"tags[{key!r}]")
        _check_text(key, f"tags[{key!r}]")
        _check_text(str(value), f"tags[{key!r}]")
        out[key] = str(value)
    return out


def validate_timeout(timeout: Any) -> float | None:
    """A per-request ``timeout=`` in seconds (it replaces the model's configured one)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise RequestValidationError(f"must be a number of seconds, not {type(timeout).__name__}", location="timeout")
    if not (math.isfinite(timeout) and 0 < timeout <= 3600):
        raise RequestValidationError(f"must be between 0 and 3600 seconds, not {timeout!r}", location="timeout")
    return float(timeout)
