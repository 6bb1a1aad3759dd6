"""Running the demo workload through the real client, and summarising what happened.

:func:`run_demo` does the I/O: it starts a loopback :class:`~costroute.testing.FakeOpenAIServer`,
builds a :class:`~costroute.Client` over :func:`~costroute.demo.demo_config`, and sends every
request of the workload through litellm's real OpenAI code path. :func:`summarize` is the pure
part: per-request outcomes in, a :class:`DemoReport` out.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._config import BASELINE, DEMO_MODELS, demo_config
from ._workload import WorkloadItem, build_workload

if TYPE_CHECKING:
    from ..testing import FakeOpenAIServer

__all__ = ["DemoReport", "ModelShare", "Outcome", "answer_of", "run_demo", "summarize"]

_WARMUP = [{"role": "user", "content": "Warm-up: say hello."}]
_FILLER = ("the", "answer", "covers", "each", "point", "in", "turn", "with", "a", "short", "example",
           "and", "notes", "on", "edge", "cases")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request of the workload, as the client reported it (``resp.costroute``)."""

    kind: str
    model: str
    tier: str
    cost_usd: Decimal
    baseline_cost_usd: Decimal
    latency_ms: float


@dataclass(frozen=True, slots=True)
class ModelShare:
    """How many requests one model served, at which tiers, for how much."""

    model: str
    requests: int
    cost_usd: Decimal
    tiers: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What routing the workload cost, against always calling the baseline model."""

    requests: int
    baseline_model: str
    models: tuple[ModelShare, ...]
    tiers: Mapping[str, int]
    kinds: Mapping[str, Mapping[str, int]]
    spend_usd: Decimal
    baseline_usd: Decimal
    p50_ms: float
    p95_ms: float
    elapsed_s: float

    @property
    def saved_usd(self) -> Decimal:
        return self.baseline_usd - self.spend_usd

    @property
    def savings_pct(self) -> float:
        """Share of the baseline spend that routing saved, in percent."""
        return float(self.saved_usd / self.baseline_usd * 100) if self.baseline_usd else 0.0

    @property
    def savings_x(self) -> float:
        """How many times cheaper than the baseline (``baseline / spend``)."""
        return float(self.baseline_usd / self.spend_usd) if self.spend_usd else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (money as decimal strings)."""
        return {
            "requests": self.requests,
            "baseline_model": self.baseline_model,
            "spend_usd": str(self.spend_usd),
            "baseline_usd": str(self.baseline_usd),
            "saved_usd": str(self.saved_usd),
            "savings_pct": round(self.savings_pct, 2),
            "savings_x": round(self.savings_x, 2) if math.isfinite(self.savings_x) else None,
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "elapsed_s": round(self.elapsed_s, 2),
            "models": [
                {"model": m.model, "requests": m.requests, "cost_usd": str(m.cost_usd), "tiers": dict(m.tiers)}
                for m in self.models
            ],
            "tiers": dict(self.tiers),
            "kinds": {k: dict(v) for k, v in self.kinds.items()},
        }


def _percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def summarize(outcomes: Iterable[Outcome], *, baseline_model: str = BASELINE, elapsed_s: float = 0.0) -> DemoReport:
    """Totals, the routing mix and latency percentiles of a run. Pure."""
    done = list(outcomes)
    counts: Counter[str] = Counter(o.model for o in done)
    shares = tuple(
        ModelShare(
            model=model, requests=n,
            cost_usd=sum((o.cost_usd for o in done if o.model == model), Decimal(0)),
            tiers=dict(Counter(o.tier for o in done if o.model == model)),
        )
        for model, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    kinds: dict[str, Counter[str]] = {}
    for o in done:
        kinds.setdefault(o.kind, Counter())[o.model] += 1
    return DemoReport(
        requests=len(done),
        baseline_model=baseline_model,
        models=shares,
        tiers=dict(Counter(o.tier for o in done)),
        kinds={k: dict(v.most_common()) for k, v in sorted(kinds.items())},
        spend_usd=sum((o.cost_usd for o in done), Decimal(0)),
        baseline_usd=sum((o.baseline_cost_usd for o in done), Decimal(0)),
        p50_ms=_percentile([o.latency_ms for o in done], 50),
        p95_ms=_percentile([o.latency_ms for o in done], 95),
        elapsed_s=elapsed_s,
    )


def answer_of(words: int) -> str:
    """A deterministic answer of ``words`` words (the fake provider bills one token per word)."""
    return " ".join(_FILLER[i % len(_FILLER)] for i in range(max(1, words)))


def _answers(workload: Sequence[WorkloadItem]) -> Callable[[list[dict[str, Any]]], str]:
    """The fake server's answer function: as long as a real answer to that prompt would be."""
    lengths = {item.prompt: item.answer_words for item in workload}

    def answer(messages: list[dict[str, Any]]) -> str:
        last = str(messages[-1].get("content", "")) if messages else ""
        return answer_of(lengths.get(last, 12))

    return answer


def run_demo(
    prompts: int = 240,
    *,
    seed: int = 7,
    server: FakeOpenAIServer | None = None,
    on_request: Callable[[int, int], None] | None = None,
) -> DemoReport:
    """Send ``prompts`` requests of the demo workload through a real :class:`~costroute.Client`.

    The provider is a :class:`~costroute.testing.FakeOpenAIServer` on 127.0.0.1 (started and
    stopped here unless ``server`` is given); no key and no network beyond loopback are used. One
    warm-up request (which imports litellm) precedes the workload and is not counted.
    ``on_request(done, total)`` is called after each request.
    """
    from .. import Client
    from ..spend import MemoryLedger
    from ..testing import FakeOpenAIServer

    workload = build_workload(prompts, seed=seed)
    fake = server if server is not None else FakeOpenAIServer().start()
    try:
        answer = _answers(workload)
        for model in DEMO_MODELS:
            fake.script(model.name(stand_in=True).split("/", 1)[1], answer=answer)
        with Client(demo_config(fake.base_url), ledger=MemoryLedger()) as client:
            client.chat.completions.create(messages=_WARMUP)
            started = time.perf_counter()
            outcomes = []
            for i, item in enumerate(workload, 1):
                t0 = time.perf_counter()
                resp = client.chat.completions.create(messages=list(item.messages), **item.params)
                latency = (time.perf_counter() - t0) * 1000
                info = resp.costroute
                outcomes.append(Outcome(item.kind, info.model, info.tier, info.cost_usd,
                                        info.baseline_cost_usd, latency))
                if on_request is not None:
                    on_request(i, len(workload))
        return summarize(outcomes, baseline_model=BASELINE, elapsed_s=time.perf_counter() - started)
    finally:
        if server is None:
            fake.stop()
