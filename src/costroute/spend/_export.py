"""Exporting spend records as CSV or JSON Lines. Money is written as exact decimal strings."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TextIO

from ._records import SpendRecord

__all__ = ["EXPORT_FIELDS", "export_csv", "export_jsonl", "record_to_dict"]

EXPORT_FIELDS = tuple(f.name for f in dataclasses.fields(SpendRecord))


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


def export_csv(records: Iterable[SpendRecord], file: TextIO) -> int:
    """Write a header and one row per record (tags as a JSON object). Returns the row count."""
    writer = csv.DictWriter(file, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for record in records:
        row = record_to_dict(record)
        row["tags"] = json.dumps(row["tags"], sort_keys=True)
        row["prompt_text"] = "" if row["prompt_text"] is None else row["prompt_text"]
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
