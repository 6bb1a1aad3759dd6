"""Fake Anthropic Message Batches endpoints for :class:`~costroute.testing.FakeOpenAIServer`.

``POST /v1/messages/batches`` (inline ``requests: [{custom_id, params}]``), ``GET
/v1/messages/batches/{id}`` (``processing_status`` ``in_progress`` / ``canceling`` / ``ended`` and
``request_counts``), ``POST .../{id}/cancel``, ``GET .../{id}/results`` (JSONL, ``result.type``
``succeeded`` / ``errored`` / ``canceled`` / ``expired``). They follow the same
:class:`~costroute.testing._fake_batches.BatchSettings` as the OpenAI ones (``fail_ids`` are
``errored``, items past ``expire_after_items`` ``expired``); a cancelled batch is ``canceling``
until its next retrieval, then ``ended`` with its requests ``canceled``. Requests without the
``x-api-key`` and ``anthropic-version`` headers are refused with a 401 / 400, as Anthropic does.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._fake_batches import BatchSettings
    from ._fake_server import FakeOpenAIServer

__all__ = ["FakeMessageBatches"]

Reply = tuple[int, bytes, str]
_KINDS = ("processing", "succeeded", "errored", "canceled", "expired")


@dataclass
class _MessageBatch:
    id: str
    requests: list[dict[str, Any]]
    settings: BatchSettings
    created: float = field(default_factory=time.time)
    polls: int = 0
    status: str = "in_progress"
    results: list[dict[str, Any]] | None = None

    def view(self) -> dict[str, Any]:
        counts = dict.fromkeys(_KINDS, 0)
        if self.results is None:
            counts["processing"] = len(self.requests)
        else:
            for r in self.results:
                counts[r["result"]["type"]] += 1
        ended = self.status == "ended"
        return {"id": self.id, "type": "message_batch", "processing_status": self.status,
                "request_counts": counts, "created_at": _iso(self.created),
                "ended_at": _iso(time.time()) if ended else None, "expires_at": _iso(self.created + 86400),
                "cancel_initiated_at": None, "archived_at": None,
                "results_url": f"/v1/messages/batches/{self.id}/results" if ended else None}


class FakeMessageBatches:
    """The Anthropic batch half of the fake. Its owner (:class:`FakeBatches`) holds the lock."""

    def __init__(self, server: FakeOpenAIServer) -> None:
        self._server = server
        self.batches: dict[str, _MessageBatch] = {}
        self.submitted: list[dict[str, Any]] = []  # every request received: {custom_id, params}
        self.headers: list[dict[str, str]] = []
        self.cache_usage: dict[str, int] = {}  # added to every answer's usage (cache reads and writes)

    def route(self, method: str, parts: list[str], headers: dict[str, str], body: bytes,
              settings: BatchSettings) -> Reply:
        lower = {k.lower(): v for k, v in headers.items()}
        self.headers.append(lower)
        if not lower.get("x-api-key"):
            return _error(401, "authentication_error", "x-api-key header is required")
        if not lower.get("anthropic-version"):
            return _error(400, "invalid_request_error", "anthropic-version header is required")
        parts = parts[2:]  # drop "messages", "batches"
        if not parts and method == "POST":
            spec = json.loads(body or b"{}")
            requests = spec.get("requests")
            if not isinstance(requests, list) or not requests:
                return _error(400, "invalid_request_error", "requests: must be a non-empty list")
            for r in requests:
                params = r.get("params") if isinstance(r, dict) else None
                if not isinstance(params, dict) or not r.get("custom_id") or int(params.get("max_tokens") or 0) < 1:
                    return _error(400, "invalid_request_error", "each request needs custom_id and params.max_tokens")
            batch = _MessageBatch("msgbatch_" + uuid.uuid4().hex[:24], requests, settings)
            self.batches[batch.id] = batch
            self.submitted.extend(requests)
            return _json(200, batch.view())
        if not parts and method == "GET":
            return _json(200, {"data": [b.view() for b in self.batches.values()], "has_more": False})
        batch = self.batches[parts[0]]
        if len(parts) == 1 and method == "GET":
            self._advance(batch)
            return _json(200, batch.view())
        if parts[1:] == ["cancel"] and method == "POST":
            if batch.status == "in_progress":
                batch.status = "canceling"
            return _json(200, batch.view())
        if parts[1:] == ["results"] and method == "GET":
            if batch.results is None:
                return _error(400, "invalid_request_error", "batch has not ended")
            data = "".join(json.dumps(r) + "\n" for r in batch.results).encode()
            return 200, data, "application/binary"
        return _error(404, "not_found_error", "unknown path")

    def _advance(self, batch: _MessageBatch) -> None:
        if batch.status == "canceling":
            batch.results = [{"custom_id": r["custom_id"], "result": {"type": "canceled"}} for r in batch.requests]
            batch.status = "ended"
            return
        if batch.status != "in_progress":
            return
        batch.polls += 1
        s = batch.settings
        due = (time.time() - batch.created >= s.complete_after_s if s.complete_after_s is not None
               else batch.polls >= s.complete_after_polls)
        if not due:
            return
        results: list[dict[str, Any]] = []
        for i, r in enumerate(batch.requests):
            cid = r["custom_id"]
            if s.expire_after_items is not None and i >= s.expire_after_items:
                result: dict[str, Any] = {"type": "expired"}
            elif cid in s.fail_ids:
                result = {"type": "errored", "error": {"type": "error", "error": {
                    "type": "invalid_request_error", "message": "scripted failure"}}}
            else:
                result = {"type": "succeeded", "message": self._server.anthropic_body(r["params"], self.cache_usage)}
            results.append({"custom_id": cid, "result": result})
        batch.results = results
        batch.status = "ended"


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _json(status: int, payload: dict[str, Any]) -> Reply:
    return status, json.dumps(payload).encode(), "application/json"


def _error(status: int, kind: str, message: str) -> Reply:
    return _json(status, {"type": "error", "error": {"type": kind, "message": message}})
