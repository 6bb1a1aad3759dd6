"""The Starlette app of ``costroute serve``: one ``AsyncClient`` per worker process, wrapped.

:func:`create_app` builds it from a configuration (a benchmark or a test calls it directly and
runs it on uvicorn); :func:`app_from_env` is the factory each ``--workers`` process imports. The
routes translate HTTP to client calls and back; routing, money and the ledger stay in the client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .._drivers import OnRecord
from .._errors import RequestValidationError
from .._types import RouteInfo
from ..policies import ConfigSource, CostrouteConfig, load_config
from ._chat import SSEResponse, StreamPump, answer_body, info_headers, read_body, translate
from ._errors import ApiError, Reply, error_reply
from ._keys import KeyTable, VirtualKey
from ._metrics import Metrics

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from .._client import AsyncClient
    from ..spend import SpendRecord

__all__ = ["CONFIG_ENV", "ServerState", "app_from_env", "create_app"]

logger = logging.getLogger("costroute.server")

#: The configuration file a worker process loads (set by ``costroute serve``).
CONFIG_ENV = "COSTROUTE_SERVE_CONFIG"
_JSON = "application/json"


class ServerState:
    """What the routes share: the configuration, keys, metrics, the client (built at startup,
    in the worker's event loop) and the stream tasks still running (awaited on shutdown)."""

    def __init__(self, config: CostrouteConfig, *, client: AsyncClient | None = None,
                 on_record: OnRecord | None = None, client_options: dict[str, Any] | None = None) -> None:
        self.config = config
        self.keys = KeyTable(config.server.keys)
        self.max_body = config.server.max_body_bytes
        self.policies = frozenset(config.policies)
        self.budgets_by_name = {b.name: b for b in config.budgets}
        self.metrics = Metrics()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.slots: asyncio.Semaphore | None = None  # made in the worker's event loop (start)
        self._user_on_record = on_record
        self._client_options = dict(client_options or {})
        self._client = client
        self._owns_client = client is None

    @property
    def client(self) -> AsyncClient:
        if self._client is None:
            raise ApiError(503, "the server is starting", type="service_unavailable", code="starting")
        return self._client

    def on_record(self, info: RouteInfo | None, record: SpendRecord) -> None:
        self.metrics.booked(info, record)
        if self._user_on_record is not None:
            self._user_on_record(info, record)

    async def admit(self) -> None:
        """Wait for one of ``max_in_flight`` places (503 ``overloaded`` past ``queue_timeout_s``)."""
        assert self.slots is not None
        if self.slots.locked():
            try:
                await asyncio.wait_for(self.slots.acquire(), self.config.server.queue_timeout_s)
            except TimeoutError:
                raise ApiError(503, "the server is overloaded; retry later", type="service_unavailable",
                               code="overloaded") from None
        else:
            await self.slots.acquire()

    def release(self) -> None:
        assert self.slots is not None
        self.slots.release()

    async def start(self) -> None:
        self.slots = asyncio.Semaphore(self.config.server.max_in_flight)
        if self._client is None:
            from .._client import AsyncClient

            self._client = AsyncClient(self.config, on_record=self.on_record, **self._client_options)

    async def stop(self, timeout: float = 30.0) -> None:
        """Drain: streams still being read finish (or are booked), then the client closes."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)
        if self._client is not None and self._owns_client:
            await self._client.aclose()


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    from starlette.responses import Response

    return Response(json.dumps(payload).encode(), status, headers, media_type=_JSON)


def _error(reply: Reply) -> Response:
    from starlette.responses import Response

    return Response(reply.body, reply.status, dict(reply.headers), media_type=_JSON)


def create_app(config: ConfigSource, *, client: AsyncClient | None = None, on_record: OnRecord | None = None,
               **client_options: Any) -> Starlette:
    """The server's ASGI app for ``config``. ``client`` serves it (default: an ``AsyncClient``
    built at startup, with ``client_options``, closed at shutdown); ``on_record`` is called after
    each booked record, besides the metrics."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    cfg = load_config(config)
    state = ServerState(cfg, client=client, on_record=on_record, client_options=client_options)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    routes = [
        Route("/v1/chat/completions", _chat_route(state), methods=["POST"]),
        Route("/chat/completions", _chat_route(state), methods=["POST"]),
        Route("/v1/models", _guarded(state, _models), methods=["GET"]),
        Route("/v1/costroute/route", _guarded(state, _route), methods=["POST"]),
        Route("/v1/costroute/spend", _guarded(state, _spend), methods=["GET"]),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz(state), methods=["GET"]),
        Route("/metrics", _metrics(state), methods=["GET"]),
        Route("/dashboard", _guarded(state, _dashboard), methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.costroute = state
    return app


def app_from_env() -> Starlette:
    """The app of one ``--workers`` process: the configuration file named by ``$COSTROUTE_SERVE_CONFIG``."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise RuntimeError(f"${CONFIG_ENV} names no configuration file")
    return create_app(path)


# -- chat completions ------------------------------------------------------------------------------

def _chat_route(state: ServerState) -> Callable[[Request], Any]:
    async def chat(request: Request) -> Any:
        started = time.perf_counter()
        metrics = state.metrics
        policy = model = ""
        admitted = False
        try:
            key = state.keys.authorize(request.headers.get("authorization"))
            raw = await read_body(request.stream(), request.headers.get("content-length"), state.max_body)
            client = state.client
            asked = translate(raw, key, client, state.policies)
            policy = asked.policy
            await state.admit()
            admitted = True
            metrics.in_flight.inc()
            result = await client.chat.completions.create(**asked.kwargs)
        except BaseException as exc:
            if admitted:
                metrics.in_flight.dec()
                state.release()
            if not isinstance(exc, Exception):
                raise
            reply = error_reply(exc, state.budgets_by_name)
            if reply.status == 503 and "retry-after" not in reply.headers:
                reply = Reply(reply.status, reply.body, {**reply.headers, "retry-after": "1"}, reply.label)
            metrics.answered(model, policy, reply.label, time.perf_counter() - started, None)
            logger.info("request %s refused: %d %s (%s)", getattr(exc, "request_id", None) or "-", reply.status,
                        reply.label, type(exc).__name__)
            return _error(reply)
        if not asked.stream:
            metrics.in_flight.dec()
            state.release()
            body, info = answer_body(result)
            metrics.answered(info.model, policy, "ok", time.perf_counter() - started, info)
            from starlette.responses import Response

            return Response(body, 200, info_headers(info.request_id, info.model, info.tier, info.cost_usd,
                                                    info.baseline_cost_usd, info.cache_hit), media_type=_JSON)
        known: RouteInfo | None = result.costroute  # a replayed (cached) stream knows its facts already

        def done(info: RouteInfo | None, status: str) -> None:
            metrics.in_flight.dec()
            state.release()
            metrics.answered(result.model, policy, status, time.perf_counter() - started, info)

        pump = StreamPump(result, asked.include_usage, state.budgets_by_name, done, state.tasks)
        return SSEResponse(pump, info_headers(
            result.request_id, result.model, result.tier, known.cost_usd if known else None,
            known.baseline_cost_usd if known else None, bool(known and known.cache_hit)))

    return chat


# -- the other routes ------------------------------------------------------------------------------

Handler = Callable[[ServerState, "Request", VirtualKey], Any]


def _guarded(state: ServerState, handler: Handler) -> Callable[[Request], Any]:
    """A route that needs the caller's key (when keys are configured: a server without keys
    listens on loopback only) and answers errors in OpenAI's shape."""

    async def route(request: Request) -> Any:
        try:
            key = state.keys.authorize(request.headers.get("authorization"))
            return await handler(state, request, key)
        except Exception as exc:
            reply = error_reply(exc, state.budgets_by_name)
            logger.info("%s refused: %d %s (%s)", request.url.path, reply.status, reply.label, type(exc).__name__)
            return _error(reply)

    return route


async def _models(state: ServerState, request: Request, key: VirtualKey) -> Response:
    client = state.client
    policies = [p for p in client.policy_names if key.policies is None or p in key.policies]
    ids = ["auto", *policies, *client.model_names]
    return _json({"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "costroute"}
                                             for i in ids]})


async def _route(state: ServerState, request: Request, key: VirtualKey) -> Response:
    """The routing decision for a chat-completions body, calling nothing."""
    raw = await read_body(request.stream(), request.headers.get("content-length"), state.max_body)
    asked = translate(raw, key, state.client, state.policies)
    kwargs = dict(asked.kwargs)
    messages = kwargs.pop("messages", None)
    kwargs.pop("stream", None)
    kwargs.pop("tags", None)
    kwargs.pop("cache", None)
    decision = state.client.route(messages, **kwargs)
    return _json({
        "model": decision.model, "tier": decision.tier, "required_tier": decision.required_tier,
        "policy": decision.policy, "difficulty": round(decision.difficulty, 4), "label": decision.label,
        "pinned": decision.pinned, "escalated": decision.escalated, "input_tokens": decision.input_tokens,
        "est_cost_usd": None if decision.est_cost_usd is None else str(decision.est_cost_usd),
        "fallbacks": decision.fallbacks,
        "candidates": [{"model": c.model, "quality": c.quality, "eligible": c.eligible,
                        "est_cost_usd": None if c.est_cost_usd is None else str(c.est_cost_usd),
                        "rejected": c.rejected} for c in decision.candidates],
    })


async def _spend(state: ServerState, request: Request, key: VirtualKey) -> Response:
    """The spend summary (``group_by``: one or more, comma-separated; ``since``/``until``: 7d, 12h
    or a date). A key sees only its own requests (those carrying its tags)."""
    from ..cli._spend import parse_when

    query = request.query_params
    group_by = [g for part in query.getlist("group_by") for g in part.split(",") if g]
    now = datetime.now(timezone.utc)
    try:
        since = parse_when(query["since"], now=now) if query.get("since") else None
        until = parse_when(query["until"], now=now) if query.get("until") else None
    except Exception:
        raise RequestValidationError("use 7d, 12h or a date such as 2026-11-01", location="since/until") from None
    try:
        rows = await state.client.spend.asummary(group_by=group_by, since=since, until=until,
                                                 tags=dict(key.tags) or None)
    except ValueError as exc:
        raise RequestValidationError(str(exc), location="group_by") from None
    return _json({"object": "list", "group_by": group_by, "data": [{
        **row.group, "requests": row.requests, "attempts": row.attempts, "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens, "cache_read_tokens": row.cache_read_tokens,
        "cost_usd": str(row.cost_usd), "baseline_cost_usd": str(row.baseline_cost_usd),
        "saved_usd": str(row.saved_usd), "cache_hits": row.cache_hits, "errors": row.errors,
        "estimated": row.estimated} for row in rows]})


async def _dashboard(state: ServerState, request: Request, key: VirtualKey) -> Response:
    """The spend dashboard (``days``: how far back, default 30). It shows every request in the
    ledger, so a key that stands for one team (a key with tags) may not open it."""
    from starlette.responses import HTMLResponse

    from ._dashboard import dashboard_page

    if key.tags:
        raise ApiError(403, "the dashboard shows every team's spend; open it with a key that has no tags",
                       type="permission_error", code="dashboard_not_allowed", param=None)
    raw = request.query_params.get("days", "30")
    if not raw.isdigit() or not 1 <= int(raw) <= 3660:
        raise RequestValidationError(f"must be a whole number of days from 1 to 3660, not {raw!r}", location="days")
    return HTMLResponse(await dashboard_page(state.client, days=int(raw)))


async def _healthz(request: Request) -> Response:
    return _json({"status": "ok"})


def _readyz(state: ServerState) -> Callable[[Request], Any]:
    async def readyz(request: Request) -> Response:
        try:
            found = await state.client.ready()
        except ApiError as exc:
            return _json({"status": exc.code}, 503)
        ok = all(v in ("ok", "not configured") for v in found.values())
        return _json({"status": "ok" if ok else "unavailable", **found}, 200 if ok else 503)

    return readyz


def _metrics(state: ServerState) -> Callable[[Request], Any]:
    async def metrics(request: Request) -> Response:
        from starlette.responses import Response

        budgets = state.client.budgets if state._client is not None else None
        body, content_type = await state.metrics.render(budgets)
        return Response(body, 200, media_type=content_type)

    return metrics

