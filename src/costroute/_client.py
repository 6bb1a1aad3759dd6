"""``Client`` and ``AsyncClient``: drop-in chat clients that route, price and record every call.

Both are thin drivers around one :class:`~costroute._engine.Engine`; they differ only in how they
call the provider and how they wait between retries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, nullcontext
from decimal import Decimal
from functools import cached_property
from typing import Any

from ._caching import CacheCall, cache_call, response_dict
from ._defaults import default_config
from ._engine import Engine, Plan
from ._errors import BudgetExceeded, ProviderError
from ._retry import AttemptRun, async_retrying, sync_retrying
from ._streams import AsyncStream, ReplayStream, Stream
from ._types import RouteInfo
from .cache import CacheEntry, CacheStore, ResponseCache, replay_chunks, store_from_config
from .policies import ConfigSource, CostrouteConfig, load_config
from .pricing._registry import PriceRegistry
from .providers import Completer, LiteLLMCompleter, chunk_from_dict
from .router._select import Decision
from .spend import (
    AlertEvent,
    Budgets,
    BudgetStore,
    Ledger,
    Reservation,
    SpendView,
    budget_store_from_config,
    ledger_from_config,
)

__all__ = ["AsyncClient", "Client"]

_END = object()


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
    ) -> None:
        cfg: CostrouteConfig = load_config(config) if config is not None else default_config()
        budgets = None
        if cfg.budgets:
            budgets = Budgets(
                cfg.budgets, budget_store or budget_store_from_config(cfg.budget_store),
                on_alert=on_budget_alert, reservation_ttl_s=cfg.budget_store.reservation_ttl_s,
            )
        cache = None
        if cfg.cache.enabled:
            cache = ResponseCache(cache_store or store_from_config(cfg.cache), cfg.cache)
        self._owns_completer = completer is None
        self._engine = Engine(
            cfg, completer=completer or LiteLLMCompleter(), registry=registry, budgets=budgets, cache=cache,
            ledger=ledger if ledger is not None else ledger_from_config(cfg.ledger),
        )

    @classmethod
    def from_config(cls, source: ConfigSource, **kwargs: Any) -> Any:
        """A client from a YAML/TOML/JSON file path or a dict."""
        return cls(source, **kwargs)

    @property
    def config(self) -> CostrouteConfig:
        return self._engine.config

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
        self._sleep = sleep

    @cached_property
    def chat(self) -> _Chat:
        return _Chat(self)

    def close(self) -> None:
        if self._owns_completer:
            self._engine.completer.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self, kwargs: Mapping[str, Any]) -> Any:
        stream = bool(kwargs.get("stream"))
        engine = self._engine
        plan = engine.plan(kwargs, stream=stream)
        cached = cache_call(engine.cache, plan, kwargs, engine.config.tiers)
        if cached is not None and (entry := cached.lookup()):
            return _from_cache(engine, plan, entry, stream)
        if stream:
            return Stream(engine, plan, *self._attempts(plan, self._open_stream), cache=cached)
        with cached.cache.single_flight(cached.key) if cached else nullcontext():
            if cached is not None and (entry := cached.lookup()):
                return _from_cache(engine, plan, entry, stream)  # filled while we waited
            (model, response, attempts, started), hold = self._attempts(plan, engine.completer.complete)
            with _settling(hold) as settle:
                info = engine.finish(plan, model, attempts, getattr(response, "usage", None), started)
                settle(info.cost_usd)
            object.__setattr__(response, "costroute", info)
            if cached is not None:
                cached.cache.store(cached.request, **_store_args(engine, cached, info, response))
        return response

    def _open_stream(self, call: Any) -> Iterator[Any]:
        chunks = iter(self._engine.completer.stream(call))
        first = next(chunks, _END)
        return _prepend(first, chunks)

    def _attempts(self, plan: Plan, send: Callable[[Any], Any]) -> tuple[Attempt, Reservation | None]:
        """Reserve, call and retry the plan's models in turn; the first success and its hold."""
        engine, run = self._engine, AttemptRun(plan.order, plan.policy.config.retry,
                                               lambda m, tried: self._engine.downgrades(plan, m, tried))
        while (model := run.next_model()) is not None:
            try:
                hold = engine.budgets.reserve(**engine.reservation_args(plan, model)) if engine.budgets else None
            except BudgetExceeded as exc:
                run.refused(model, exc)
                continue
            with _releasing(hold):
                try:
                    for attempt in sync_retrying(run.config, run.per_model(), self._sleep):
                        with attempt:
                            started = run.begin()
                            try:
                                result = send(engine.call_for(plan, model))
                            except BaseException as exc:
                                engine.failed(plan, model, run.count, exc, started)
                                raise
                except ProviderError as exc:
                    _release(hold, exc)
                    run.failed(exc)
                    continue
                return (model, result, run.count, started), hold
        raise run.exhausted()


class AsyncClient(_Base):
    """The asynchronous client: ``await client.chat.completions.create(messages=[...])``."""

    def __init__(self, config: ConfigSource | None = None, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._sleep = sleep

    @cached_property
    def chat(self) -> _AsyncChat:
        return _AsyncChat(self)

    async def aclose(self) -> None:
        if self._owns_completer:
            await self._engine.completer.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _create(self, kwargs: Mapping[str, Any]) -> Any:
        stream = bool(kwargs.get("stream"))
        engine = self._engine
        plan = engine.plan(kwargs, stream=stream)
        cached = cache_call(engine.cache, plan, kwargs, engine.config.tiers)
        if cached is not None and (entry := await cached.alookup()):
            return _from_cache(engine, plan, entry, stream)
        if stream:
            return await AsyncStream(engine, plan, *await self._attempts(plan, self._open_stream), cache=cached).start()
        async with cached.cache.asingle_flight(cached.key) if cached else nullcontext():
            if cached is not None and (entry := await cached.alookup()):
                return _from_cache(engine, plan, entry, stream)
            (model, response, attempts, started), hold = await self._attempts(plan, engine.completer.acomplete)
            async with _asettling(hold) as settle:
                info = engine.finish(plan, model, attempts, getattr(response, "usage", None), started)
                await settle(info.cost_usd)
            object.__setattr__(response, "costroute", info)
            if cached is not None:
                await cached.cache.astore(cached.request, **_store_args(engine, cached, info, response))
        return response

    async def _open_stream(self, call: Any) -> AsyncIterator[Any]:
        chunks = self._engine.completer.astream(call)
        first = await anext(aiter(chunks), _END)
        return _aprepend(first, chunks)

    async def _attempts(self, plan: Plan, send: Callable[[Any], Awaitable[Any]]) -> tuple[Attempt, Reservation | None]:
        engine, run = self._engine, AttemptRun(plan.order, plan.policy.config.retry,
                                               lambda m, tried: self._engine.downgrades(plan, m, tried))
        while (model := run.next_model()) is not None:
            try:
                hold = await engine.budgets.areserve(**engine.reservation_args(plan, model)) if engine.budgets else None
            except BudgetExceeded as exc:
                run.refused(model, exc)
                continue
            async with _areleasing(hold):
                try:
                    async for attempt in async_retrying(run.config, run.per_model(), self._sleep):
                        with attempt:
                            started = run.begin()
                            try:
                                result = await send(engine.call_for(plan, model))
                            except BaseException as exc:
                                engine.failed(plan, model, run.count, exc, started)
                                raise
                except ProviderError as exc:
                    await _arelease(hold, exc)
                    run.failed(exc)
                    continue
                return (model, result, run.count, started), hold
        raise run.exhausted()


Attempt = tuple[str, Any, int, float]


def _from_cache(engine: Engine, plan: Plan, entry: CacheEntry, stream: bool) -> Any:
    """A cache hit, as a response (or a replayed stream) carrying its accounting."""
    info = engine.served_from_cache(plan, entry)
    if stream:
        return ReplayStream([chunk_from_dict(c) for c in replay_chunks(entry)], info)
    response = engine.cached_answer(entry)
    object.__setattr__(response, "costroute", info)
    return response


def _store_args(engine: Engine, cached: CacheCall, info: RouteInfo, response: Any) -> dict[str, Any]:
    quality = engine.catalog.candidate(info.model).quality
    return cached.store_args(model=info.model, quality=quality, response=response_dict(response), cost=info.cost_usd)


def _release(hold: Reservation | None, failure: ProviderError | None = None) -> None:
    """Give the hold back; settle what a failure was billed for (an unreadable answer) instead."""
    if hold is not None:
        billed = getattr(failure, "recorded_cost", None)
        if billed:
            hold.settle(billed)
        hold.release()  # a no-op once settled


async def _arelease(hold: Reservation | None, failure: ProviderError | None = None) -> None:
    if hold is not None:
        billed = getattr(failure, "recorded_cost", None)
        if billed:
            await hold.asettle(billed)
        await hold.arelease()


@contextmanager
def _releasing(hold: Reservation | None) -> Iterator[None]:
    """Give the hold back if anything escapes (errors, KeyboardInterrupt, cancellation)."""
    try:
        yield
    except BaseException:
        _release(hold)
        raise


@asynccontextmanager
async def _areleasing(hold: Reservation | None) -> AsyncIterator[None]:
    try:
        yield
    except BaseException:
        await _arelease(hold)
        raise


@contextmanager
def _settling(hold: Reservation | None) -> Iterator[Callable[[Decimal], None]]:
    """Yield a function that settles the hold; release it if accounting fails instead."""
    def settle(amount: Decimal) -> None:
        if hold is not None:
            hold.settle(amount)

    with _releasing(hold):
        yield settle


@asynccontextmanager
async def _asettling(hold: Reservation | None) -> AsyncIterator[Callable[[Decimal], Awaitable[None]]]:
    async def settle(amount: Decimal) -> None:
        if hold is not None:
            await hold.asettle(amount)

    async with _areleasing(hold):
        yield settle


def _prepend(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    try:
        if first is not _END:
            yield first
            yield from rest
    finally:
        close = getattr(rest, "close", None)
        if callable(close):
            close()


async def _aprepend(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    try:
        if first is not _END:
            yield first
            async for chunk in rest:
                yield chunk
    finally:
        close = getattr(rest, "aclose", None)
        if callable(close):
            await close()


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
