"""OpenAI's Files + Batches API over plain HTTP (the standard library's ``urllib``).

One JSONL file per provider job (``purpose=batch``), ``POST /batches`` to start it, ``GET
/batches/{id}`` to poll it, the output and error files to collect it. Errors never carry the
API key: a :class:`~costroute.BatchError` names the operation and the provider's status.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from .._errors import BatchError

__all__ = ["AnthropicBatchAPI", "OpenAIBatchAPI", "anthropic_params", "openai_body"]

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


_ANTHROPIC_BASE = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"


class AnthropicBatchAPI:
    """Anthropic's Message Batches API (``/v1/messages/batches``) over httpx: the requests go
    inline in the create call; results are one JSONL download once the batch has ended."""

    def __init__(self, api_base: str | None, api_key: str | None, *, timeout_s: float = 60.0) -> None:
        base = (api_base or _ANTHROPIC_BASE).rstrip("/")
        self.base = base.removesuffix("/v1")
        self._key = api_key or ""
        self._timeout = timeout_s

    def __repr__(self) -> str:
        return f"AnthropicBatchAPI({self.base!r})"

    def _call(self, what: str, method: str, path: str, payload: dict[str, Any] | None = None) -> bytes:
        import httpx

        headers = {"anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"}
        if self._key:
            headers["x-api-key"] = self._key
        try:
            resp = httpx.request(method, self.base + path, headers=headers, timeout=self._timeout,
                                 content=json.dumps(payload).encode() if payload is not None else None)
        except httpx.HTTPError as exc:
            detail = str(exc).replace(self._key or "\0", "[redacted]")
            raise BatchError(f"{what} failed at {self.base}: {type(exc).__name__}: {detail}") from None
        if resp.status_code >= 400:
            detail = resp.content[:300].decode("utf-8", "replace").replace(self._key or "\0", "[redacted]")
            raise BatchError(f"{what} failed at {self.base}: HTTP {resp.status_code}: {detail}",
                             status_code=resp.status_code)
        return resp.content

    def _json(self, what: str, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        out = json.loads(self._call(what, method, path, payload))
        if not isinstance(out, dict):
            raise BatchError(f"{what}: the provider answered {type(out).__name__}, not an object")
        return out

    def create(self, requests: list[dict[str, Any]]) -> dict[str, Any]:
        return self._json("create the message batch", "POST", "/v1/messages/batches", {"requests": requests})

    def retrieve(self, job_id: str) -> dict[str, Any]:
        return self._json("retrieve the message batch", "GET", f"/v1/messages/batches/{job_id}")

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._json("cancel the message batch", "POST", f"/v1/messages/batches/{job_id}/cancel")

    def results(self, job_id: str) -> list[dict[str, Any]]:
        data = self._call("download the message batch results", "GET", f"/v1/messages/batches/{job_id}/results")
        return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


def anthropic_params(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI-style chat call as Anthropic Messages ``params``: system messages become
    ``system``, ``max_tokens`` is required (``max_completion_tokens`` is read as it), ``stop``
    becomes ``stop_sequences``; sampling parameters Anthropic knows pass through."""
    system: list[Any] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        if m.get("role") == "system":
            content = m.get("content")
            system.extend(content if isinstance(content, list) else [{"type": "text", "text": str(content)}])
        else:
            turns.append({"role": m.get("role"), "content": m.get("content")})
    out: dict[str, Any] = {"model": model, "messages": turns,
                           "max_tokens": int(params.get("max_tokens") or params.get("max_completion_tokens") or 0)}
    if system:
        out["system"] = system
    for key in ("temperature", "top_p", "top_k", "metadata", "tools", "tool_choice"):
        if key in params:
            out[key] = params[key]
    if "stop" in params:
        stop = params["stop"]
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    return out


def openai_body(message: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic message as the OpenAI chat-completion body a live call's response has; its usage
    in litellm's inclusive shape (prompt counts cache reads and writes), with the breakdown kept."""
    text = "".join(str(b.get("text", "")) for b in message.get("content") or [] if b.get("type") == "text")
    u = message.get("usage") or {}
    read, write = int(u.get("cache_read_input_tokens") or 0), int(u.get("cache_creation_input_tokens") or 0)
    prompt, completion = int(u.get("input_tokens") or 0) + read + write, int(u.get("output_tokens") or 0)
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion, "cache_read_input_tokens": read,
                             "cache_creation_input_tokens": write,
                             "prompt_tokens_details": {"cached_tokens": read}}
    if isinstance(u.get("cache_creation"), dict):
        usage["cache_creation"] = dict(u["cache_creation"])
    finish = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}
    return {"id": str(message.get("id", "")), "object": "chat.completion", "created": int(time.time()),
            "model": message.get("model"), "service_tier": "batch",
            "choices": [{"index": 0, "finish_reason": finish.get(str(message.get("stop_reason")), "stop"),
                         "message": {"role": "assistant", "content": text}}],
            "usage": usage}
