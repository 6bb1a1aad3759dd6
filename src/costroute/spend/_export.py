"""Exporting spend records as CSV or JSON Lines. Money is written as exact decimal strings."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

from ._records import SpendRecord, Tags

__all__ = ["EXPORT_FIELDS", "export_csv", "export_jsonl", "record_from_dict", "record_to_dict"]

EXPORT_FIELDS = tuple(f.name for f in dataclasses.fields(SpendRecord))
_DECIMALS = frozenset(
    f.name for f in dataclasses.fields(SpendRecord) if "Decimal" in str(f.type)
)


def record_to_dict(record: SpendRecord) -> dict[str, Any]:
    """A JSON-safe dict: ISO timestamps, money as strings, tags as an object."""
    out: dict[str, Any] = {}
    for name in EXPORT_FIELDS:
        value = getattr(record, name)
        if isinstance(value, Decimal):
            value = str(value)
        elif name == "ts":
            value = value.isoformat()
        elif name == "tags":
            value = dict(value)
        out[name] = value
    return out


def record_from_dict(data: dict[str, Any]) -> SpendRecord:
    """The record :func:`record_to_dict` wrote (JSON Lines export, the ledger spool). Keys this
    version does not know are ignored; missing ones take their defaults."""
    values: dict[str, Any] = {}
    for name in EXPORT_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name in _DECIMALS and value is not None:
            value = Decimal(value)
        elif name == "ts":
            value = datetime.fromisoformat(value)
        elif name == "tags":
            value = Tags(value)
        values[name] = value
    return SpendRecord(**values)


def export_csv(records: Iterable[SpendRecord], file: TextIO) -> int:
    """Write a header and one row per record (tags as a JSON object). Returns the row count."""
    writer = csv.DictWriter(file, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for record in records:
        row = record_to_dict(record)
        row["tags"] = json.dumps(row["tags"], sort_keys=True)
        for name in ("prompt_text", "answer_text"):
            row[name] = "" if row[name] is None else row[name]
        writer.writerow(row)
        n += 1
    return n


def export_jsonl(records: Iterable[SpendRecord], file: TextIO) -> int:
    """Write one JSON object per line. Returns the record count."""
    n = 0
    for record in records:
        file.write(json.dumps(record_to_dict(record), sort_keys=True) + "\n")
        n += 1
    return n
