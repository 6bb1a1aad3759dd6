"""``POST /v1/chat/completions``: an OpenAI request body in, the client's answer out.

The body becomes one ``AsyncClient.chat.completions.create(...)`` call: routing, the cache,
budgets and the ledger are the client's; this module only translates. ``model`` is ``auto`` (or
absent), a policy name, or a pool model (pinned); ``policy``, ``tags`` and ``cache`` ride in the
body as the OpenAI SDK's ``extra_body`` sends them; the key's tags win over the body's.

A stream is read by a task of its own into a bounded queue (:data:`QUEUE_CHUNKS` chunks) that the
response drains: a slow client holds at most that much, and stalls the upstream read instead of
growing memory. When the client goes away the reading task is cancelled (a plain task
cancellation, outside the response's cancel scope), so the stream is closed, its hold released
and its record booked as estimated before the response's task ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .._types import RouteInfo
from ._errors import ApiError, error_reply
from ._keys import VirtualKey

if TYPE_CHECKING:
    from .._client import AsyncClient

__all__ = ["QUEUE_CHUNKS", "Translated", "info_dict", "info_headers", "read_body", "sse", "translate"]

logger = logging.getLogger("costroute.server")

#: How many encoded chunks a stream may hold for a client that reads slowly.
QUEUE_CHUNKS = 32
_DONE = b"data: [DONE]\n\n"
_END: Any = object()


async def read_body(receive_stream: AsyncIterator[bytes], content_length: str | None, limit: int) -> bytes:
    """The request body, refused (413) before parsing when it declares or turns out to be over
    ``limit`` bytes; nothing beyond the limit is kept."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise ApiError(400, "malformed Content-Length header", code="invalid_request") from None
        if declared > limit:
            raise ApiError(413, f"the request body is {declared} bytes, over the limit of {limit}",
                           code="request_too_large")
    parts: list[bytes] = []
    size = 0
    async for part in receive_stream:
        size += len(part)
        if size > limit:
            raise ApiError(413, f"the request body is over the limit of {limit} bytes", code="request_too_large")
        parts.append(part)
    return b"".join(parts)


class Translated:
    """A request body turned into ``create(...)`` arguments."""

    __slots__ = ("include_usage", "kwargs", "policy", "stream")

    def __init__(self, kwargs: dict[str, Any], policy: str, stream: bool, include_usage: bool) -> None:
        self.kwargs, self.policy, self.stream, self.include_usage = kwargs, policy, stream, include_usage


def translate(raw: bytes, key: VirtualKey, client: AsyncClient, policies: frozenset[str]) -> Translated:
    """Parse and translate a chat-completions body (400/403 on anything wrong, naming the field)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the request body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", code="invalid_request")
    model = body.pop("model", None)
    asked = body.pop("policy", None)
    if asked is not None and not isinstance(asked, str):
        raise ApiError(400, "must be a string", code="invalid_request", param="policy")
    pinned: str | None = None
    if model is None or model == "" or model == "auto":
        pass
    elif not isinstance(model, str):
        raise ApiError(400, "must be a string", code="invalid_request", param="model")
    elif model in policies:
        if asked is not None and asked != model:
            raise ApiError(400, f"model names policy {model!r} but policy is {asked!r}", code="invalid_request",
                           param="policy")
        asked = model
    else:
        pinned = client.resolve_model(model)
        if pinned is None:
            raise ApiError(400, f"unknown model {model!r}: use 'auto', a policy ({', '.join(sorted(policies))}) "
                                "or a model of the pool (GET /v1/models)", code="model_not_found", param="model")
    policy = key.policy_for(asked)
    stream = body.pop("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "must be true or false", code="invalid_request", param="stream")
    options = body.pop("stream_options", None)
    if options is not None and not isinstance(options, dict):
        raise ApiError(400, "must be an object", code="invalid_request", param="stream_options")
    include_usage = bool(options and options.get("include_usage"))
    if key.tags:
        tags = body.get("tags")
        body["tags"] = {**tags, **key.tags} if isinstance(tags, dict) else (tags if tags is not None else key.tags)
    body.setdefault("messages", None)  # refused by the client's checks, naming it
    body["model"], body["policy"], body["stream"] = pinned, policy, stream
    return Translated(body, policy, stream, include_usage)


def info_dict(info: RouteInfo) -> dict[str, Any]:
    """The ``costroute`` object of an answer (money as decimal strings, exact)."""
    return {
        "request_id": info.request_id, "policy": info.policy, "model": info.model, "tier": info.tier,
        "cost_usd": str(info.cost_usd), "baseline_cost_usd": str(info.baseline_cost_usd),
        "saved_usd": str(info.saved_usd), "cache_hit": info.cache_hit, "attempts": info.attempts,
        "pinned": info.pinned, "estimated": info.estimated, "difficulty": round(info.difficulty, 4),
        "label": info.label, "service_tier": info.service_tier,
        "usage": {"input_tokens": info.usage.input_tokens, "output_tokens": info.usage.output_tokens,
                  "cache_read_tokens": info.usage.cache_read_tokens,
                  "cache_write_tokens": info.usage.cache_write_tokens},
    }


def info_headers(request_id: str, model: str, tier: str, cost: Decimal | None, baseline: Decimal | None,
                 cache_hit: bool) -> dict[str, str]:
    """The ``x-costroute-*`` headers; a live stream's costs are ``pending`` (see its last event)."""
    return {
        "x-costroute-request-id": request_id, "x-costroute-model": model, "x-costroute-tier": tier,
        "x-costroute-cost-usd": "pending" if cost is None else str(cost),
        "x-costroute-baseline-cost-usd": "pending" if baseline is None else str(baseline),
        "x-costroute-cache-hit": "true" if cache_hit else "false",
    }


def answer_body(response: Any) -> tuple[bytes, RouteInfo]:
    info: RouteInfo = response.costroute
    data = response.model_dump(exclude_none=True)
    data.pop("costroute", None)
    data["costroute"] = info_dict(info)
    return json.dumps(data).encode(), info


def sse(payload: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


class StreamPump:
    """Reads an ``AsyncStream`` (or a replayed one) into a bounded queue of encoded events, in a
    task of its own; ``events()`` is what the response sends. ``done(info, status)`` is told how
    the stream ended, once it is booked."""

    def __init__(self, stream: Any, include_usage: bool, budgets: Any,
                 done: Callable[[RouteInfo | None, str], None], tasks: set[asyncio.Task[Any]]) -> None:
        self._stream = stream
        self._include_usage = include_usage
        self._budgets = budgets
        self._done = done
        self._queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_CHUNKS)
        self._task = asyncio.get_running_loop().create_task(self._read())
        tasks.add(self._task)
        self._task.add_done_callback(tasks.discard)

    async def _read(self) -> None:
        stream, queue = self._stream, self._queue
        held: dict[str, Any] | None = None
        status = "ok"
        try:
            async for chunk in stream:
                data = chunk.model_dump(exclude_none=True)
                if not data.get("choices"):
                    if self._include_usage and data.get("usage"):
                        held = data  # the usage chunk: sent last, with the booked facts
                    continue
                if not self._include_usage:
                    data.pop("usage", None)
                await queue.put(sse(data))
            await stream.aclose()
            info = stream.costroute
            if info is not None:
                facts = info_dict(info)
                if held is not None:
                    held["costroute"] = facts
                    await queue.put(sse(held))
                await queue.put(b": costroute " + json.dumps(facts).encode() + b"\n\n")
            await queue.put(_DONE)
        except asyncio.CancelledError:
            status = "cancelled"  # the client went away: the stream is booked as estimated
            await stream.aclose()
            raise
        except Exception as exc:  # the provider broke off (booked by the stream as an estimate)
            await stream.aclose()
            reply = error_reply(exc, self._budgets)
            status = reply.label
            logger.info("stream %s ended: %s (%s)", getattr(stream, "request_id", "-"), reply.label,
                        type(exc).__name__)
            await queue.put(b"data: " + reply.body + b"\n\n")
            await queue.put(_END)
        finally:
            self._done(getattr(stream, "costroute", None), status)

    async def items(self) -> AsyncIterator[bytes]:
        """The encoded events, in order, until the stream has ended."""
        queue = self._queue
        while (item := await queue.get()) is not _END:
            yield item
            if item is _DONE:
                return

    async def stop(self) -> None:
        """Stop reading (a no-op once the stream has ended) and wait, shielded from the
        response's cancellation, until the stream is closed and booked."""
        import anyio

        task = self._task
        if task.done():
            return
        task.cancel()
        with anyio.move_on_after(30, shield=True):
            while not task.done():
                while not self._queue.empty():
                    self._queue.get_nowait()
                await asyncio.wait({task}, timeout=0.05)


class SSEResponse:
    """A server-sent-events answer driven by a :class:`StreamPump`. It listens for the client's
    disconnect while it sends, and on any exit stops the pump, so an abandoned stream is booked
    before the request's task ends."""

    def __init__(self, pump: StreamPump, headers: Mapping[str, str]) -> None:
        self._pump = pump
        self._headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
                         (b"x-accel-buffering", b"no"),
                         *((k.encode(), v.encode()) for k, v in headers.items())]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import anyio

        pump = self._pump

        async def pour(done: anyio.CancelScope) -> None:
            async for item in pump.items():
                await send({"type": "http.response.body", "body": item, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            done.cancel()

        try:
            await send({"type": "http.response.start", "status": 200, "headers": self._headers})
            async with anyio.create_task_group() as group:
                group.start_soon(pour, group.cancel_scope)
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()  # the client went away
        except* OSError:
            pass  # the client went away while we were sending
        finally:
            await pump.stop()

