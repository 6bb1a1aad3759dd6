"""The cache key: a pure, versioned hash over everything that can change a response.

``cache_key`` canonicalises the request (sorted keys, no whitespace, ``1 == 1.0``, a ``stop``
string equal to a one-element list, ``None`` equal to absent at the top level and inside
messages) and hashes it with SHA-256 together with the namespace, the policy and the target.
Keys that cannot change the output (``stream``, ``user``, ``metadata``, ...) and every
credential (``api_key``, ``api_base``, anything named like a secret) never enter the key
material. Unknown keys (provider extras) are included: a false miss is cheap, a false hit is not.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "EXCLUDED_KEYS",
    "KEY_VERSION",
    "UNCANONICAL",
    "CanonicalRequest",
    "cache_key",
    "canonical_request",
    "canonicalize",
    "is_secret_key",
    "model_target",
    "routed_target",
]

KEY_VERSION = "cr2"
"""Prefix of every key; bump it whenever the key material or the entry shape changes."""

EXCLUDED_KEYS: frozenset[str] = frozenset(
    {
        # transport and bookkeeping: no effect on the output
        "stream",
        "stream_options",
        "user",
        "metadata",
        "timeout",
        "tags",
        "request_id",
        "cache",
        "cache_namespace",
        "policy",
        "num_retries",
        "max_retries",
        # the model is carried by ``target`` (canonical name, or the routing policy)
        "model",
        # connection parameters and credentials
        "api_key",
        "api_base",
        "base_url",
        "api_version",
        "organization",
        "headers",
        "extra_headers",
    }
)
"""Top-level request keys that never enter the key material."""

UNCANONICAL: tuple[type[BaseException], ...] = (TypeError, ValueError, ArithmeticError, RecursionError)
"""What canonicalising a request can raise (no JSON form, a signalling NaN, a number too long to
print, a too-deep structure, a ``model_dump`` that fails): such a request is just uncacheable."""

_SECRET_MARKERS = ("secret", "password", "credential")
_MESSAGE_LISTS = ("messages",)


@functools.lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """True for parameter names that carry credentials (``api_key``, ``aws_secret_...``, ...)."""
    lowered = name.lower()
    return (
        lowered.endswith(("_key", "_token", "apikey"))
        or lowered == "authorization"
        or any(marker in lowered for marker in _SECRET_MARKERS)
    )


def routed_target(policy: str) -> str:
    """The ``target`` of a routed request."""
    return f"routed:{policy}"


def model_target(canonical_model: str) -> str:
    """The ``target`` of a request pinned to one model."""
    return f"model:{canonical_model}"


def _number(value: int | float | Decimal) -> int | float | str:
    if isinstance(value, int):
        return value
    as_float = float(value)
    if not math.isfinite(as_float):
        return repr(as_float)  # "nan", "inf", "-inf": JSON has no such numbers
    if as_float.is_integer() and abs(as_float) < 2**53:
        return int(as_float)
    return as_float


def _canon(value: Any, *, drop_none: bool = False) -> Any:
    """A JSON-ready, order-independent form of ``value``; raises ``TypeError`` if it has none."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is dict:  # the common case first: plain JSON data
        return {
            k if type(k) is str else str(k): _canon(v)
            for k, v in value.items()
            if not (drop_none and v is None)
        }
    if kind is list:
        return [_canon(v) for v in value]
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, Decimal)):
        return _number(value)
    if isinstance(value, Mapping):
        return {str(k): _canon(v) for k, v in value.items() if not (drop_none and v is None)}
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # pydantic objects (e.g. message or tool classes)
        return _canon(dump(exclude_none=True), drop_none=drop_none)
    raise TypeError(f"cannot build a cache key over a value of type {type(value).__name__}")


def _canon_message(message: Any) -> Any:
    canon = _canon(message, drop_none=True)
    if isinstance(canon, dict) and isinstance(canon.get("tool_calls"), list):
        canon["tool_calls"] = [
            {k: v for k, v in call.items() if v is not None} if isinstance(call, dict) else call
            for call in canon["tool_calls"]
        ]
    return canon


def canonical_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``request`` that can change the output, in canonical form."""
    out: dict[str, Any] = {}
    for raw_name, value in request.items():
        name = str(raw_name)
        if value is None or name in EXCLUDED_KEYS or is_secret_key(name):
            continue
        if name in _MESSAGE_LISTS and isinstance(value, (list, tuple)):
            out[name] = [_canon_message(m) for m in value]
        elif name == "stop" and isinstance(value, str):
            out[name] = [value]
        else:
            out[name] = _canon(value)
    return out


@dataclass(frozen=True, slots=True)
class CanonicalRequest:
    """A request in canonical form, computed once and shared by every key made from it:
    ``messages`` is the canonical JSON of the conversation, ``params`` the other
    output-affecting fields (canonical values) and ``params_json`` their JSON."""

    messages: str
    params: dict[str, Any]
    params_json: str


_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def canonicalize(request: Mapping[str, Any]) -> CanonicalRequest:
    """``request`` in canonical form; raises one of :data:`UNCANONICAL` (``TypeError`` when it
    holds a value with no JSON form) when it has none."""
    params = canonical_request(request)
    messages = params.pop("messages", None)
    return CanonicalRequest(_dumps(messages), params, _dumps(params))


def cache_key(
    request: Mapping[str, Any] | CanonicalRequest, *, policy: str, namespace: str, target: str
) -> str:
    """``"cr2:" + sha256`` over the canonical request, the policy, the namespace and the target.

    ``target`` is ``routed_target(policy)`` for routed requests and ``model_target(model)``
    for pinned ones. Raises ``TypeError`` when the request holds a value with no JSON form
    (the caller treats such a request as uncacheable). The key material is one line of JSON
    per part (scope, messages, parameters); JSON never holds a raw newline, so the parts
    cannot run into each other.
    """
    canon = request if isinstance(request, CanonicalRequest) else canonicalize(request)
    material = "\n".join((_dumps([namespace, policy, target]), canon.messages, canon.params_json))
    digest = hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{KEY_VERSION}:{digest}"
