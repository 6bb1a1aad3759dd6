"""OpenTelemetry spans for every booked call, with the GenAI semantic-convention attributes.

Built on the per-request ``on_record(info, record)`` hook (:data:`~costroute._drivers.OnRecord`):
:class:`SpanRecorder` is one such hook, chained with the user's own (:func:`chain_hooks`), so a
span is emitted for every spend record the ledger books, whatever else listens.

- The record that ends a request (``info`` set) is the request's span, ``chat <model>``: the
  ``gen_ai.*`` facts (operation, provider, request and response model, tokens incl. cache tokens)
  and costroute's own (``costroute.cost_usd``, ``.tier``, ``.difficulty``, ``.cache_hit``,
  ``.policy``, ``.request_id``, ...).
- A failed attempt that was retried, or a shadow/judge call, is a span too (same attributes, no
  RouteInfo facts); a failure sets the span status to ERROR and ``error.type`` to the exception
  class name only (never its message: it may quote a prompt).

The span is created when the record is booked and back-dated by the record's latency, so its
start and end are the call's. ``opentelemetry-api`` is optional (the ``otel`` extra) and imported
only when a client is given a tracer provider. No prompt, answer text or key is ever attached.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from ._types import RouteInfo
from .spend import SpendRecord

__all__ = ["SCOPE", "SpanRecorder", "chain_hooks", "span_attributes"]

logger = logging.getLogger("costroute.telemetry")

#: The instrumentation scope costroute's tracer is named after.
SCOPE = "costroute"

Hook = Callable[[RouteInfo | None, SpendRecord], None]

#: costroute's provider names -> the values ``gen_ai.provider.name`` defines (others pass through).
_PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "azure": "azure.ai.openai",
              "bedrock": "aws.bedrock", "gemini": "gcp.gemini", "vertex_ai": "gcp.vertex_ai",
              "mistral": "mistral_ai", "groq": "groq", "deepseek": "deepseek", "xai": "x_ai",
              "cohere": "cohere", "perplexity": "perplexity"}


def span_attributes(info: RouteInfo | None, record: SpendRecord) -> dict[str, Any]:
    """The attributes of a booked call's span (pure; OpenTelemetry value types only)."""
    provider = _PROVIDERS.get(record.provider, record.provider)
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,  # the older name, still read by many backends
        "gen_ai.request.model": record.model,
        "gen_ai.usage.input_tokens": record.input_tokens + record.cache_read_tokens + record.cache_write_tokens,
        "gen_ai.usage.output_tokens": record.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": record.cache_read_tokens,
        "gen_ai.usage.cache_creation.input_tokens": record.cache_write_tokens,
        "costroute.request_id": record.request_id,
        "costroute.attempt": record.attempt,
        "costroute.status": record.status,
        "costroute.policy": record.policy,
        "costroute.tier": record.tier,
        "costroute.cost_usd": float(record.cost_usd),
        "costroute.baseline_cost_usd": float(record.baseline_cost_usd),
        "costroute.saved_usd": float(record.saved_usd),
        "costroute.cache_hit": record.status == "cache_hit",
        "costroute.estimated": record.estimated,
        "costroute.role": record.role,
        "costroute.service_tier": record.service_tier,
    }
    if record.reasoning_tokens:
        attrs["gen_ai.usage.reasoning.output_tokens"] = record.reasoning_tokens
    if record.difficulty is not None:
        attrs["costroute.difficulty"] = float(record.difficulty)
    if record.parent_request_id:
        attrs["costroute.parent_request_id"] = record.parent_request_id
    for key, value in record.tags.items():
        attrs[f"costroute.tag.{key}"] = str(value)
    if record.status in ("error", "cancelled"):
        attrs["error.type"] = _error_type(record)
    else:
        attrs["gen_ai.response.model"] = record.model
    if info is not None:
        requested = info.decision.model if info.decision is not None and info.pinned else None
        attrs.update({
            "gen_ai.request.model": requested or info.model,
            "gen_ai.response.model": info.model,
            "costroute.tier": info.tier,
            "costroute.difficulty": float(info.difficulty),
            "costroute.label": info.label,
            "costroute.cache_hit": info.cache_hit,
            "costroute.cost_usd": float(info.cost_usd),
            "costroute.saved_usd": float(info.saved_usd),
            "costroute.attempts": info.attempts,
            "costroute.pinned": info.pinned,
        })
    return attrs


def _error_type(record: SpendRecord) -> str:
    name = record.error.split(":", 1)[0].strip()
    return name if name.isidentifier() else ("cancelled" if record.status == "cancelled" else "_OTHER")


class SpanRecorder:
    """An ``on_record`` hook that emits one span per booked call (see the module docs).

    ``tracer_provider`` is an OpenTelemetry ``TracerProvider``, or ``"global"`` for the one set
    with ``opentelemetry.trace.set_tracer_provider`` (used only when asked for, as OTel advises
    for libraries)."""

    def __init__(self, tracer_provider: Any | Literal["global"]) -> None:
        try:
            from opentelemetry import trace
        except ImportError as exc:
            raise ImportError("tracing needs opentelemetry-api: pip install 'costroute[otel]'") from exc
        from ._version import __version__

        self._trace = trace
        provider = trace.get_tracer_provider() if tracer_provider == "global" else tracer_provider
        self._tracer = provider.get_tracer(SCOPE, __version__)
        self._client_kind = trace.SpanKind.CLIENT

    def __call__(self, info: RouteInfo | None, record: SpendRecord) -> None:
        end = time.time_ns()
        start = end - int(max(record.latency_ms, 0.0) * 1_000_000)
        span = self._tracer.start_span(f"chat {record.model}", kind=self._client_kind, start_time=start,
                                       attributes=span_attributes(info, record))
        if record.status in ("error", "cancelled"):
            kind = self._trace.StatusCode.ERROR
            span.set_status(self._trace.Status(kind, _error_type(record)))
        span.end(end_time=end)


def chain_hooks(*hooks: Hook | None) -> Hook | None:
    """One ``on_record`` hook calling each given one in turn (a failing one is logged, the
    others still run); ``None`` when none is given."""
    present = [h for h in hooks if h is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def chained(info: RouteInfo | None, record: SpendRecord) -> None:
        for hook in present:
            try:
                hook(info, record)
            except Exception:
                logger.exception("on_record hook failed for request %s", record.request_id)

    return chained
