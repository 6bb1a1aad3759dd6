"""Virtual keys: who may call the server, with which tags and policies. Pure.

Only SHA-256 digests are kept; a presented key is hashed and compared with every digest in
constant time (``hmac.compare_digest``, no early exit), so neither the keys nor which one matched
leak through timing. A key never appears in a repr, a log line or an error.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..policies import ServerKey
from ._errors import ApiError

__all__ = ["KeyTable", "VirtualKey"]


@dataclass(frozen=True, slots=True)
class VirtualKey:
    """An authorised caller: its label (``name`` or ``key-<n>``), tags and allowed policies."""

    label: str
    tags: Mapping[str, str]
    policies: tuple[str, ...] | None  # None: every policy

    def __repr__(self) -> str:
        return f"VirtualKey({self.label!r})"

    def policy_for(self, asked: str | None) -> str:
        """The policy a request of this key runs under, or a 403 when it may not use ``asked``."""
        if asked is None:
            return self.policies[0] if self.policies else "default"
        if self.policies is not None and asked not in self.policies:
            raise ApiError(403, f"this key may not use policy {asked!r} (allowed: {', '.join(self.policies)})",
                           type="permission_error", code="policy_not_allowed", param="policy")
        return asked


#: The caller of a server with no keys: loopback only, every policy.
OPEN = VirtualKey("open", {}, None)


class KeyTable:
    """The configured virtual keys. With none, every request is :data:`OPEN`."""

    def __init__(self, keys: Sequence[ServerKey]) -> None:
        self._entries: list[tuple[bytes, VirtualKey]] = []
        for i, key in enumerate(keys):
            if key.key is not None:
                digest = hashlib.sha256(key.key.get_secret_value().encode()).digest()
            else:
                assert key.key_sha256 is not None
                digest = bytes.fromhex(key.key_sha256)
            vk = VirtualKey(key.name or f"key-{i}", dict(key.tags), tuple(key.policies) if key.policies else None)
            self._entries.append((digest, vk))

    @property
    def open(self) -> bool:
        return not self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"KeyTable({len(self._entries)} keys)"

    def authorize(self, header: str | None) -> VirtualKey:
        """The key an ``Authorization`` header presents, or a 401."""
        if not self._entries:
            return OPEN
        if not header:
            raise ApiError(401, "missing API key: send 'Authorization: Bearer <key>'", code="invalid_api_key")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "malformed Authorization header: expected 'Bearer <key>'", code="invalid_api_key")
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found: VirtualKey | None = None
        for known, vk in self._entries:  # every digest compared: the time does not depend on which
            if hmac.compare_digest(known, digest) and found is None:
                found = vk
        if found is None:
            raise ApiError(401, "invalid API key", code="invalid_api_key")
        return found
