"""``GET /metrics``: Prometheus counters of one app, in a registry of its own (never the global one).

With ``--workers N`` each worker is a process: the metrics then use prometheus-client's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by ``costroute serve`` before the workers
start), so a scrape of any worker reports all of them. Budget gauges are read from the shared
budget store at scrape time, so every worker reports the same remaining amounts.

No label ever holds a key or a prompt: models, policies, statuses, budget names and their counters'
scopes (``global``, ``policy=default``, ...) only.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._types import RouteInfo
    from ..spend import Budgets, SpendRecord

__all__ = ["Metrics"]

_FAST = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
_SLOW = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The server's metrics. ``multiprocess`` (default: whether ``PROMETHEUS_MULTIPROC_DIR`` is
    set) collects every worker's values from that directory."""

    def __init__(self, *, multiprocess: bool | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR")) if multiprocess is None else multiprocess
        self.registry = CollectorRegistry(auto_describe=True)
        own: Any = None if self.multiprocess else self.registry
        if self.multiprocess:
            from prometheus_client import multiprocess as mp

            mp.MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        self.requests = Counter("costroute_requests", "Chat-completion requests answered, by outcome.",
                                ["model", "policy", "status"], registry=own)
        self.spend = Counter("costroute_spend_usd", "Dollars booked in the ledger, by model.", ["model"], registry=own)
        self.saved = Counter("costroute_saved_usd", "Dollars saved against each policy's baseline.", registry=own)
        self.cache_hits = Counter("costroute_cache_hits", "Answers served from the response cache.", registry=own)
        self.upstream = Histogram("costroute_upstream_latency_seconds", "Time spent waiting for the provider.",
                                  buckets=_SLOW, registry=own)
        self.overhead = Histogram("costroute_overhead_seconds",
                                  "costroute's own time per request (total minus upstream).", buckets=_FAST,
                                  registry=own)
        gauge_mode: dict[str, str] = {"multiprocess_mode": "livesum"} if self.multiprocess else {}
        self.in_flight = Gauge("costroute_in_flight_requests", "Requests being served now.", registry=own,
                               **gauge_mode)  # type: ignore[arg-type]
        budget_mode: dict[str, str] = {"multiprocess_mode": "mostrecent"} if self.multiprocess else {}
        self.budget_remaining = Gauge("costroute_budget_remaining_usd",
                                      "Dollars left in each budget counter (limit - spent - reserved).",
                                      ["budget", "scope"], registry=own, **budget_mode)  # type: ignore[arg-type]

    def booked(self, info: RouteInfo | None, record: SpendRecord) -> None:
        """The ``on_record`` hook: every record booked (failed attempts' estimated costs too)."""
        if record.cost_usd:
            self.spend.labels(record.model).inc(float(record.cost_usd))
        if record.status == "cache_hit":
            self.cache_hits.inc()
        if info is not None and info.saved_usd > 0:
            self.saved.inc(float(info.saved_usd))

    def answered(self, model: str, policy: str, status: str, total_s: float, info: RouteInfo | None) -> None:
        self.requests.labels(model or "none", policy or "none", status).inc()
        upstream = 0.0
        if info is not None and not info.cache_hit:
            upstream = info.latency_ms / 1000
            self.upstream.observe(upstream)
        self.overhead.observe(max(0.0, total_s - upstream))

    async def render(self, budgets: Budgets | None) -> tuple[bytes, str]:
        """The exposition text (budget gauges refreshed first, off the event loop)."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        if budgets is not None:
            try:
                states = await asyncio.to_thread(budgets.snapshot)
            except Exception:  # the store is down: the gauges keep their last values
                states = []
            for state in states:
                self.budget_remaining.labels(state.budget, state.scope_key).set(float(state.remaining))
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
