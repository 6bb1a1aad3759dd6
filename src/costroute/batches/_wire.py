"""OpenAI's Files + Batches API over plain HTTP (the standard library's ``urllib``).

One JSONL file per provider job (``purpose=batch``), ``POST /batches`` to start it, ``GET
/batches/{id}`` to poll it, the output and error files to collect it. Errors never carry the
API key: a :class:`~costroute.BatchError` names the operation and the provider's status.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

from .._errors import BatchError

__all__ = ["OpenAIBatchAPI"]

_DEFAULT_BASE = "https://api.openai.com/v1"


class OpenAIBatchAPI:
    """The batch endpoints of one OpenAI-compatible base URL."""

    def __init__(self, api_base: str | None, api_key: str | None, *, timeout_s: float = 60.0) -> None:
        self.base = (api_base or _DEFAULT_BASE).rstrip("/")
        self._key = api_key or ""
        self._timeout = timeout_s

    def __repr__(self) -> str:
        return f"OpenAIBatchAPI({self.base!r})"

    def _call(self, what: str, method: str, path: str, data: bytes | None = None,
              content_type: str = "application/json") -> bytes:
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if self._key:
            req.add_header("authorization", "Bearer " + self._key)
        if data is not None:
            req.add_header("content-type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                body: bytes = resp.read()
                return body
        except urllib.error.HTTPError as exc:
            with exc:
                raw = exc.read()
            detail = raw[:300].decode("utf-8", "replace").replace(self._key or "\0", "[redacted]")
            raise BatchError(f"{what} failed at {self.base}: HTTP {exc.code}: {detail}",
                             status_code=exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            raise BatchError(f"{what} failed at {self.base}: {type(exc).__name__}: {exc}") from None

    def _json(self, what: str, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(payload).encode() if payload is not None else None
        out = json.loads(self._call(what, method, path, data))
        if not isinstance(out, dict):
            raise BatchError(f"{what}: the provider answered {type(out).__name__}, not an object")
        return out

    def upload(self, jsonl: bytes) -> str:
        """Upload a batch input file; its id."""
        boundary = "costroute" + uuid.uuid4().hex
        body = (f"--{boundary}\r\ncontent-disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
                f"--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"batch.jsonl\"\r\n"
                f"content-type: application/jsonl\r\n\r\n").encode() + jsonl + f"\r\n--{boundary}--\r\n".encode()
        out = json.loads(self._call("upload the batch file", "POST", "/files", body,
                                    f"multipart/form-data; boundary={boundary}"))
        return str(out["id"])

    def create(self, file_id: str, *, window: str, metadata: dict[str, str]) -> dict[str, Any]:
        return self._json("create the batch", "POST", "/batches", {
            "input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": window,
            "metadata": metadata})

    def retrieve(self, job_id: str) -> dict[str, Any]:
        return self._json("retrieve the batch", "GET", f"/batches/{job_id}")

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._json("cancel the batch", "POST", f"/batches/{job_id}/cancel", {})

    def content(self, file_id: str) -> list[dict[str, Any]]:
        """The lines of an output or error file."""
        data = self._call("download the batch results", "GET", f"/files/{file_id}/content")
        return [json.loads(line) for line in data.decode().splitlines() if line.strip()]
