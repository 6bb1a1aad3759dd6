"""``Client`` and ``AsyncClient``: drop-in chat clients that route, price and record every call.

Both run one request loop (:mod:`costroute._loop`) through their driver (:mod:`costroute._drivers`):
they differ only in how an effect is performed, by blocking or by awaiting.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ._caching import cache_call
from ._defaults import default_config
from ._drivers import AsyncDriver, OnRecord, SyncDriver
from ._engine import Engine, Plan, new_request_id
from ._errors import CostrouteError
from ._loop import Opened, Steps, request
from ._shadow_loop import shadow
from ._streams import AsyncStream, Stream
from ._telemetry import SpanRecorder, chain_hooks
from .cache import CacheStore, ResponseCache, store_from_config
from .learning import ShadowSampler
from .policies import ConfigSource, CostrouteConfig, load_config
from .pricing._registry import PriceRegistry
from .providers import Completer, LiteLLMCompleter
from .router._select import Decision

if TYPE_CHECKING:
    from .batches import AsyncBatches, Batches
from .spend import (
    AlertEvent,
    BudgetConfig,
    Budgets,
    BudgetStore,
    Ledger,
    SpendView,
    budget_store_from_config,
    ledger_from_config,
)

__all__ = ["AsyncClient", "Client"]

logger = logging.getLogger("costroute.client")


class Background:
    """A sync client's background work (shadow calls): one worker thread, started on first use,
    a bounded queue (work that finds it full is dropped and logged: it never slows the caller)."""

    def __init__(self, size: int = 64) -> None:
        self._queue: queue.Queue[Callable[[], Any] | None] = queue.Queue(maxsize=size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, work: Callable[[], Any]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="costroute-background", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait(work)
        except queue.Full:
            logger.warning("background queue full: a shadow call was dropped")

    def _work(self) -> None:
        while (work := self._queue.get()) is not None:
            try:
                work()
            except Exception:
                logger.exception("background work failed")

    def close(self, timeout: float = 30.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)


async def _quietly(work: Awaitable[Any], plan: Plan) -> None:
    try:
        await work
    except Exception:
        logger.exception("background work for %s failed", plan.request_id)


class _Base:
    def __init__(
        self,
        config: ConfigSource | None = None,
        *,
        completer: Completer | None = None,
        ledger: Ledger | None = None,
        registry: PriceRegistry | None = None,
        budget_store: BudgetStore | None = None,
        on_budget_alert: Callable[[AlertEvent], None] | None = None,
        cache_store: CacheStore | None = None,
        on_record: OnRecord | None = None,
        tracer_provider: Any = None,
    ) -> None:
        """``on_record(info, record)`` is called after each spend record is booked.
        ``tracer_provider`` (an OpenTelemetry ``TracerProvider``, or ``"global"`` for the global
        one; needs the ``otel`` extra) makes every booked call a span with the GenAI attributes
        (:mod:`costroute._telemetry`), alongside ``on_record``."""
        cfg: CostrouteConfig = load_config(config) if config is not None else default_config()
        budgets = None
        ledger = ledger if ledger is not None else ledger_from_config(cfg.ledger)
        if cfg.budgets or any(p.shadow for p in cfg.policies.values()):
            budget_store = budget_store or budget_store_from_config(cfg.budget_store)
        if cfg.budgets:
            assert budget_store is not None
            budgets = Budgets(
                cfg.budgets, budget_store,
                on_alert=on_budget_alert, reservation_ttl_s=cfg.budget_store.reservation_ttl_s,
                ledger=ledger,  # seeds a new or wiped store
            )
        cache = None
        if cfg.cache.enabled:
            cache = ResponseCache(cache_store or store_from_config(cfg.cache), cfg.cache)
        self._owns_completer = completer is None
        self._engine = Engine(
            cfg, completer=completer or LiteLLMCompleter(), registry=registry, budgets=budgets, cache=cache,
            ledger=ledger,
        )
        spans = SpanRecorder(tracer_provider) if tracer_provider is not None else None
        self._on_record = chain_hooks(on_record, spans)
        self._shadows = {name: (ShadowSampler(p.shadow.rate, key=f"costroute-shadow:{name}"),
                                Budgets([BudgetConfig(name="shadow", limit_usd=p.shadow.max_usd_per_day, period="day",
                                                      scope="policy")], budget_store))  # type: ignore[arg-type]
                         for name, p in cfg.policies.items() if p.shadow is not None}

    def _shadow(self, plan: Plan, result: Any) -> Steps[Any] | None:
        """The shadow steps of an answered request, if its policy samples it (see ``shadow:``)."""
        sampler, daily = self._shadows.get(plan.policy.name, (None, None))
        info = getattr(result, "costroute", None)
        if sampler is None or info is None or info.cache_hit or plan.stream or not sampler.sampled(plan.request_id):
            return None
        choices = getattr(result, "choices", None) or []
        text = getattr(getattr(choices[0], "message", None), "content", None) if choices else None
        if not text or info.model == (plan.policy.config.shadow.reference if plan.policy.config.shadow else ""):
            return None
        return shadow(self._engine, plan, info.model, str(text), daily)

    def _plan(self, kwargs: Mapping[str, Any]) -> tuple[Plan, Any]:
        """Validate and route a ``create(...)`` call, and its view of the cache. Errors carry the
        request id already (nothing was sent, nothing is recorded)."""
        request_id = new_request_id()
        engine = self._engine
        try:
            plan = engine.plan(kwargs, stream=bool(kwargs.get("stream")), request_id=request_id)
        except CostrouteError as exc:
            exc.request_id = request_id
            raise
        return plan, cache_call(engine.cache, plan, kwargs, engine.config.tiers)

    @classmethod
    def from_config(cls, source: ConfigSource, **kwargs: Any) -> Any:
        """A client from a YAML/TOML/JSON file path or a dict."""
        return cls(source, **kwargs)

    @property
    def config(self) -> CostrouteConfig:
        return self._engine.config

    @property
    def policy_names(self) -> list[str]:
        """The configured policies' names, sorted."""
        return sorted(self._engine.config.policies)

    @property
    def model_names(self) -> list[str]:
        """The pool's models, as configured (in the configuration's order)."""
        return [m.name for m in self._engine.config.models]

    def resolve_model(self, name: str) -> str | None:
        """The configured pool model ``name`` names (another spelling of it, e.g. ``gpt-4o`` for
        ``openai/gpt-4o``, resolves too), or ``None`` when it names none."""
        resolved = self._engine.catalog.resolve(name)
        return resolved if self._engine.catalog.model_config(resolved) is not None else None

    @cached_property
    def spend(self) -> SpendView:
        """The spend ledger: ``records(...)``, ``summary(...)``, ``export(...)``."""
        return SpendView(self._engine.ledger)

    def feedback(self, request_id: str, score: float) -> None:
        """Record the quality (0..1) of a request's answer in the ledger. With ``ledger:
        {store_prompts: true}``, ``client.spend.outcomes()`` then yields training data for
        ``costroute train``."""
        self.spend.feedback(request_id, score)

    @property
    def budgets(self) -> Budgets | None:
        """The configured budgets (``snapshot()`` shows limit, spent, reserved, remaining)."""
        return self._engine.budgets

    def route(self, messages: Any, *, policy: str = "default", model: str | None = None, **params: Any) -> Decision:
        """Decide and explain where a request would go, calling nothing."""
        return self._engine.route({"messages": messages, "policy": policy, "model": model, **params})

    def __repr__(self) -> str:
        models = ", ".join(m.name for m in self.config.models)
        return f"{type(self).__name__}(models=[{models}], policies={sorted(self.config.policies)})"


class Client(_Base):
    """The synchronous client: ``client.chat.completions.create(messages=[...])``."""

    def __init__(self, config: ConfigSource | None = None, *, sleep: Callable[[float], None] = time.sleep,
                 **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._driver = SyncDriver(self._engine, sleep=sleep, on_record=self._on_record)

    @cached_property
    def chat(self) -> _Chat:
        return _Chat(self)

    @cached_property
    def batches(self) -> Batches:
        """Provider batch APIs at batch prices (:mod:`costroute.batches`)."""
        from .batches import Batches

        return Batches(self._engine, self._driver)

    def close(self) -> None:
        """Finish background work (shadow calls), then close the HTTP pools this client opened."""
        if "_background" in self.__dict__:
            self._background.close()
        if self._owns_completer:
            self._engine.completer.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self, kwargs: Mapping[str, Any]) -> Any:
        plan, cached = self._plan(kwargs)
        result = self._driver.run(request(self._engine, plan, cached), plan)
        if isinstance(result, Opened):
            return Stream(self._driver, result)
        steps = self._shadow(plan, result) if self._shadows else None
        if steps is not None:
            self._background.submit(lambda: self._driver.run(steps, plan))
        return result

    @cached_property
    def _background(self) -> Background:
        return Background()


class AsyncClient(_Base):
    """The asynchronous client: ``await client.chat.completions.create(messages=[...])``."""

    def __init__(self, config: ConfigSource | None = None, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._driver = AsyncDriver(self._engine, sleep=sleep, on_record=self._on_record)
        self._tasks: set[asyncio.Task[Any]] = set()

    @cached_property
    def chat(self) -> _AsyncChat:
        return _AsyncChat(self)

    @cached_property
    def batches(self) -> AsyncBatches:
        """Provider batch APIs at batch prices (:mod:`costroute.batches`), from worker threads."""
        from .batches import AsyncBatches, Batches

        return AsyncBatches(Batches(self._engine, SyncDriver(self._engine, sleep=time.sleep,
                                                                 on_record=self._on_record)))

    async def aclose(self) -> None:
        """Finish background work (shadow calls; at most 30 s), then close the HTTP pools."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=30)
            for task in late:
                task.cancel()
        if self._owns_completer:
            await self._engine.completer.aclose()

    async def ready(self) -> dict[str, str]:
        """Whether the ledger, the budget store and the response cache are reachable now: each
        ``"ok"``, ``"unavailable (<error type>)"`` or ``"not configured"`` (the server's ``/readyz``)."""
        engine = self._engine
        found: dict[str, str] = {}

        async def probe(name: str, check: Callable[[], Awaitable[Any]] | None) -> None:
            if check is None:
                found[name] = "not configured"
                return
            try:
                await check()
            except Exception as exc:
                found[name] = f"unavailable ({type(exc).__name__})"
            else:
                found[name] = "ok"

        budgets, cache = engine.budgets, engine.cache
        await probe("ledger", engine.ledger.aready)
        await probe("budget_store", None if budgets is None else lambda: asyncio.to_thread(budgets.snapshot))
        await probe("cache", None if cache is None else lambda: cache.backend.aget("costroute-readiness-probe"))
        return found

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _create(self, kwargs: Mapping[str, Any]) -> Any:
        plan, cached = self._plan(kwargs)
        result = await self._driver.run(request(self._engine, plan, cached), plan)
        if isinstance(result, Opened):
            return await AsyncStream(self._driver, result).start()
        steps = self._shadow(plan, result) if self._shadows else None
        if steps is not None:
            task = asyncio.get_running_loop().create_task(_quietly(self._driver.run(steps, plan), plan))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return result


class _Completions:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, *, messages: Any, model: str | None = None, policy: str | None = None,
               tags: Mapping[str, str] | None = None, stream: bool = False, **params: Any) -> Any:
        """Create a chat completion, routed to the cheapest adequate model (or ``model`` if pinned).

        Returns an OpenAI-shaped response with ``.costroute`` (a :class:`~costroute.RouteInfo`), or
        with ``stream=True`` an iterator of chunks whose ``.costroute`` is set once it ends.
        """
        return self._client._create(
            {"messages": messages, "model": model, "policy": policy, "tags": tags, "stream": stream, **params}
        )


class _Chat:
    def __init__(self, client: Client) -> None:
        self.completions = _Completions(client)


class _AsyncCompletions:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, *, messages: Any, model: str | None = None, policy: str | None = None,
                     tags: Mapping[str, str] | None = None, stream: bool = False, **params: Any) -> Any:
        """The async twin of :meth:`_Completions.create`."""
        return await self._client._create(
            {"messages": messages, "model": model, "policy": policy, "tags": tags, "stream": stream, **params}
        )


class _AsyncChat:
    def __init__(self, client: AsyncClient) -> None:
        self.completions = _AsyncCompletions(client)
