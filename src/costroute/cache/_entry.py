"""A cached response, its versioned byte form, and the statistics every store reports."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from costroute._frozen import FrozenDict, FrozenList, freeze
from costroute.cache._key import is_secret_key

__all__ = ["ENTRY_VERSION", "CacheEntry", "CacheStats", "CorruptEntryError", "scrub"]

ENTRY_VERSION = 1

_HEADER_KEYS = frozenset({"headers", "response_headers", "request_headers", "api_base"})


class CorruptEntryError(ValueError):
    """A stored blob could not be decoded; stores treat it as a miss and delete it."""


def scrub(value: Any) -> Any:
    """A deep, read-only copy of a JSON-like value without private keys (``_hidden_params``,
    ...), headers, ``api_base`` or anything named like a credential."""
    if isinstance(value, Mapping):
        return FrozenDict({
            str(k): scrub(v)
            for k, v in value.items()
            if not (
                str(k).startswith("_") or str(k).lower() in _HEADER_KEYS or is_secret_key(str(k))
            )
        })
    if isinstance(value, (list, tuple)):
        return FrozenList([scrub(v) for v in value])
    return value


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached response. ``response`` is OpenAI ``chat.completion`` JSON.

    ``cost_usd`` is what the original call cost (a ``Decimal`` rendered as ``str``): a hit saves
    it. ``size_bytes`` is the length of ``to_bytes()`` and is what byte budgets count. ``etag``
    tells versions of an entry apart (random per ``create``; for a stored entry without one, a
    hash of its bytes), so whatever is derived from an entry can be reused until it is rewritten.
    """

    key: str
    namespace: str
    model: str
    model_quality: float
    response: dict[str, Any]
    usage: dict[str, Any]
    cost_usd: str
    created_at: float
    expires_at: float | None
    finish_reason: str | None
    size_bytes: int = field(default=0, compare=False)
    etag: str = field(default="", compare=False)

    @classmethod
    def create(
        cls,
        *,
        key: str,
        namespace: str,
        model: str,
        model_quality: float,
        response: Mapping[str, Any],
        usage: Mapping[str, Any],
        cost_usd: Decimal | str,
        created_at: float,
        expires_at: float | None,
        finish_reason: str | None,
    ) -> CacheEntry:
        """Build an entry, scrubbing the response and usage into read-only copies, with
        ``size_bytes`` filled in."""
        fields: dict[str, Any] = {
            "key": key,
            "namespace": namespace,
            "model": model,
            "model_quality": float(model_quality),
            "response": scrub(response),
            "usage": scrub(usage),
            "cost_usd": str(Decimal(cost_usd)),
            "created_at": float(created_at),
            "expires_at": None if expires_at is None else float(expires_at),
            "finish_reason": finish_reason,
            "etag": os.urandom(8).hex(),
        }
        return cls(**fields, size_bytes=len(_encode(fields)))

    def frozen(self) -> CacheEntry:
        """A deeply read-only copy, safe to share between every reader (the memory store's form).
        An entry from ``create`` already is one, and is returned as is."""
        if type(self.response) is FrozenDict and type(self.usage) is FrozenDict:
            return self  # only ``freeze``/``scrub`` make FrozenDicts, and they freeze all the way down
        return replace(self, response=freeze(self.response), usage=freeze(self.usage))

    def expired(self, now: float) -> bool:
        """True once ``now`` has reached ``expires_at``."""
        return self.expires_at is not None and now >= self.expires_at

    def to_bytes(self) -> bytes:
        """Versioned JSON; ``size_bytes`` is not stored (it is the blob's length)."""
        return _encode({name: getattr(self, name) for name in _STORED})

    @classmethod
    def from_bytes(cls, blob: bytes, *, key: str | None = None) -> CacheEntry:
        """Decode ``blob``; raise ``CorruptEntryError`` on any damage, an unknown version, or
        (when ``key`` is given) an entry stored under another key."""
        try:
            doc = json.loads(blob)
            if not isinstance(doc, dict) or doc.get("v") != ENTRY_VERSION:
                raise CorruptEntryError("unknown cache entry version")
            entry = cls(
                key=_typed(doc, "key", str),
                namespace=_typed(doc, "namespace", str),
                model=_typed(doc, "model", str),
                model_quality=float(_typed(doc, "model_quality", (int, float))),
                response=_typed(doc, "response", dict),
                usage=_typed(doc, "usage", dict),
                cost_usd=str(Decimal(_typed(doc, "cost_usd", str))),
                created_at=float(_typed(doc, "created_at", (int, float))),
                expires_at=_optional_float(doc.get("expires_at")),
                finish_reason=_optional_str(doc.get("finish_reason")),
                size_bytes=len(blob),
                etag=_optional_str(doc.get("etag"), "etag") or hashlib.sha256(blob).hexdigest()[:16],
            )
        except CorruptEntryError:
            raise
        except (ValueError, TypeError, ArithmeticError, KeyError) as exc:
            raise CorruptEntryError(f"corrupted cache entry: {type(exc).__name__}") from exc
        if key is not None and entry.key != key:
            raise CorruptEntryError("cache entry stored under a different key")
        return entry


_STORED = ("key", "namespace", "model", "model_quality", "response", "usage", "cost_usd", "created_at",
           "expires_at", "finish_reason", "etag")


def _encode(fields: Mapping[str, Any]) -> bytes:
    doc = {"v": ENTRY_VERSION, **{name: fields[name] for name in _STORED}}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _typed(doc: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = doc[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CorruptEntryError(f"cache entry field {name!r} has the wrong type")
    return value


def _optional_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CorruptEntryError("cache entry field 'expires_at' has the wrong type")
    return float(value)


def _optional_str(value: Any, name: str = "finish_reason") -> str | None:
    if value is not None and not isinstance(value, str):
        raise CorruptEntryError(f"cache entry field {name!r} has the wrong type")
    return value


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What a store holds (``entries``, ``bytes``) and what this store object has seen
    (``hits``, ``misses``, ``evictions``) since it was opened."""

    entries: int
    bytes: int
    hits: int
    misses: int
    evictions: int
