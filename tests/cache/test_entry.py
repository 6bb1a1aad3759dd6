"""The entry's byte form, and what it must never contain."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from costroute.cache import CacheEntry, CorruptEntryError

from .conftest import SENTINEL, make_entry, make_response


def test_round_trip_and_size() -> None:
    entry = make_entry(expires_at=5.0)
    blob = entry.to_bytes()
    assert json.loads(blob)["v"] == 1
    assert "size_bytes" not in json.loads(blob)
    back = CacheEntry.from_bytes(blob)
    assert back == entry and back.size_bytes == len(blob) == entry.size_bytes


def test_cost_is_a_decimal_string() -> None:
    entry = make_entry()
    assert entry.cost_usd == "0.000123" and Decimal(entry.cost_usd) == Decimal("0.000123")


def test_expired() -> None:
    entry = make_entry(expires_at=10.0)
    assert not entry.expired(9.99) and entry.expired(10.0)
    assert not make_entry(expires_at=None).expired(1e12)


@pytest.mark.parametrize(
    "blob",
    [b"", b"[]", b'{"v": 2}', b"\xff\xfe", b'{"v": 1, "key": 3}'],
)
def test_damaged_blobs_raise_corrupt_entry(blob: bytes) -> None:
    with pytest.raises(CorruptEntryError):
        CacheEntry.from_bytes(blob)


def test_wrong_key_is_corrupt() -> None:
    with pytest.raises(CorruptEntryError):
        CacheEntry.from_bytes(make_entry("cr1:a").to_bytes(), key="cr1:b")


def test_secrets_are_scrubbed_from_the_response() -> None:
    response = make_response()
    response["_hidden_params"] = {"api_base": "https://x", "api_key": SENTINEL}
    response["_response_headers"] = {"authorization": f"Bearer {SENTINEL}"}
    response["headers"] = {"x-api-key": SENTINEL}
    response["api_key"] = SENTINEL
    response["choices"][0]["provider_specific_fields"] = {"api_key": SENTINEL}
    entry = CacheEntry.create(
        key="cr1:s", namespace="n", model="m", model_quality=1, response=response,
        usage={**response["usage"], "api_key": SENTINEL}, cost_usd=Decimal("0.01"),
        created_at=0, expires_at=None, finish_reason="stop",
    )  # fmt: skip
    assert SENTINEL.encode() not in entry.to_bytes()
    assert entry.response["choices"][0]["message"] == make_response()["choices"][0]["message"]
    assert entry.response["choices"][0]["provider_specific_fields"] == {}
    assert entry.usage == make_response()["usage"]
