"""Fake OpenAI Files + Batches endpoints for :class:`~costroute.testing.FakeOpenAIServer`.

``POST /v1/files`` (multipart, ``purpose=batch``), ``GET /v1/files/{id}/content``,
``POST /v1/batches``, ``GET /v1/batches[/{id}]``, ``POST /v1/batches/{id}/cancel``. A batch
completes after ``complete_after_polls`` retrievals (or ``complete_after_s`` seconds); items whose
``custom_id`` is in ``fail_ids`` land in the error file; with ``expire_after_items`` set the
batch expires with only that many items answered (the rest in the error file as
``batch_expired``). Anthropic's Message Batches (``/v1/messages/batches``) are
:class:`~costroute.testing._fake_message_batches.FakeMessageBatches`, under ``anthropic``, with the
same settings. Each answered item is priced like the fake's chat answers (the model's
script applies). What it was sent is kept: ``uploads`` (the JSONL lines) and ``requests``
(method and path of every call).

    server.batches.configure(complete_after_polls=2, fail_ids={"q3"})
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._fake_message_batches import FakeMessageBatches

if TYPE_CHECKING:
    from ._fake_server import FakeOpenAIServer

__all__ = ["BatchSettings", "FakeBatches"]


@dataclass
class BatchSettings:
    complete_after_polls: int = 1
    complete_after_s: float | None = None
    fail_ids: frozenset[str] = frozenset()
    expire_after_items: int | None = None


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    window: str
    metadata: dict[str, Any]
    settings: BatchSettings
    created: float = field(default_factory=time.time)
    polls: int = 0
    status: str = "validating"
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "object": "batch", "endpoint": self.endpoint, "input_file_id": self.input_file_id,
                "completion_window": self.window, "status": self.status, "output_file_id": self.output_file_id,
                "error_file_id": self.error_file_id, "created_at": int(self.created), "metadata": self.metadata,
                "request_counts": dict(self.counts), "errors": None}


Reply = tuple[int, bytes, str]


class FakeBatches:
    """The batch half of the fake: state, and one ``handle`` the HTTP handler calls."""

    def __init__(self, server: FakeOpenAIServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self.settings = BatchSettings()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self.uploads: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.anthropic = FakeMessageBatches(server)  # /v1/messages/batches

    def configure(self, *, complete_after_polls: int = 1, complete_after_s: float | None = None,
                  fail_ids: set[str] | frozenset[str] = frozenset(), expire_after_items: int | None = None) -> None:
        """How batches created from now on behave."""
        with self._lock:
            self.settings = BatchSettings(complete_after_polls, complete_after_s, frozenset(fail_ids),
                                          expire_after_items)

    def handles(self, path: str) -> bool:
        return path.startswith(("/v1/files", "/v1/batches", "/v1/messages/batches"))

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            self.requests.append((method, path))
            parts = [p for p in path.split("?")[0].split("/") if p][1:]  # drop "v1"
            try:
                if parts[:2] == ["messages", "batches"]:
                    return self.anthropic.route(method, parts, headers, body, self.settings)
                return self._route(method, parts, headers, body)
            except KeyError as exc:
                return _json(404, {"error": {"message": f"no such object: {exc}", "type": "invalid_request_error"}})

    def _route(self, method: str, parts: list[str], headers: dict[str, str], body: bytes) -> Reply:
        if parts == ["files"] and method == "POST":
            return self._upload(headers, body)
        if len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
            return 200, self.files[parts[1]], "application/jsonl"
        if parts == ["batches"] and method == "POST":
            spec = json.loads(body or b"{}")
            if spec.get("input_file_id") not in self.files:
                return _json(400, {"error": {"message": "input_file_id not found", "type": "invalid_request_error"}})
            batch = _Batch("batch_" + uuid.uuid4().hex[:20], spec["input_file_id"], spec.get("endpoint", ""),
                           spec.get("completion_window", "24h"), dict(spec.get("metadata") or {}), self.settings)
            batch.counts["total"] = len(_lines(self.files[batch.input_file_id]))
            self.batches[batch.id] = batch
            return _json(200, batch.view())
        if parts == ["batches"] and method == "GET":
            return _json(200, {"object": "list", "data": [b.view() for b in self.batches.values()]})
        if len(parts) == 2 and parts[0] == "batches":
            batch = self.batches[parts[1]]
            self._advance(batch)
            return _json(200, batch.view())
        if len(parts) == 3 and parts[0] == "batches" and parts[2] == "cancel" and method == "POST":
            batch = self.batches[parts[1]]
            if batch.status in ("validating", "in_progress"):
                batch.status = "cancelled"  # nothing ran: no output file
                batch.counts["failed"] = batch.counts["total"]
            return _json(200, batch.view())
        return _json(404, {"error": {"message": "unknown path", "type": "invalid_request_error"}})

    def _upload(self, headers: dict[str, str], body: bytes) -> Reply:
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"content-type: " + ctype.encode() + b"\r\n\r\n" + body)
        fields: dict[str, bytes] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload
        if fields.get("purpose") != b"batch" or "file" not in fields:
            return _json(400, {"error": {"message": "expected purpose=batch and a file",
                                         "type": "invalid_request_error"}})
        file_id = "file-" + uuid.uuid4().hex[:20]
        self.files[file_id] = fields["file"]
        self.uploads.extend(_lines(fields["file"]))
        return _json(200, {"id": file_id, "object": "file", "purpose": "batch", "bytes": len(fields["file"])})

    def _advance(self, batch: _Batch) -> None:
        if batch.status not in ("validating", "in_progress"):
            return
        batch.polls += 1
        s = batch.settings
        due = (time.time() - batch.created >= s.complete_after_s if s.complete_after_s is not None
               else batch.polls >= s.complete_after_polls)
        if not due:
            batch.status = "in_progress"
            return
        items = _lines(self.files[batch.input_file_id])
        out: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            if s.expire_after_items is not None and i >= s.expire_after_items:
                errors.append({"id": f"batch_req_{i}", "custom_id": item.get("custom_id"), "response": None,
                               "error": {"code": "batch_expired", "message": "not completed in time"}})
            elif item.get("custom_id") in s.fail_ids:
                errors.append({"id": f"batch_req_{i}", "custom_id": item.get("custom_id"), "error": None,
                               "response": {"status_code": 400, "request_id": f"req_{i}",
                                            "body": {"error": {"message": "scripted failure", "type": "fake"}}}})
            else:
                out.append({"id": f"batch_req_{i}", "custom_id": item.get("custom_id"), "error": None,
                            "response": {"status_code": 200, "request_id": f"req_{i}",
                                         "body": self._server.answer_body(item.get("body") or {})}})
        batch.status = "expired" if s.expire_after_items is not None else "completed"
        batch.counts.update(completed=len(out), failed=len(errors))
        if out:
            batch.output_file_id = "file-" + uuid.uuid4().hex[:20]
            self.files[batch.output_file_id] = _jsonl(out)
        if errors:
            batch.error_file_id = "file-" + uuid.uuid4().hex[:20]
            self.files[batch.error_file_id] = _jsonl(errors)


def _lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _json(status: int, payload: dict[str, Any]) -> Reply:
    return status, json.dumps(payload).encode(), "application/json"
