"""Streamed answers: OpenAI-shaped chunks passed through, with the cost known once the stream ends.

A stream is booked on every exit (by :func:`costroute._loop.finish_stream`, driven like the rest of
the request), including one closed, left or garbage-collected before its first chunk was read:
with the provider's usage once it arrived (``ok``), completed without the provider's usage
(``estimated`` from the text seen, also when litellm made up a usage chunk of its own count),
abandoned by the caller or cancelled (``cancelled``, estimated), or broken by the provider
(``error``, estimated). Never $0. A complete answer (every choice finished, the provider's
usage seen) is cached even if the caller stops reading right after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import ProviderError
from ._types import RouteInfo
from .providers._litellm import MADE_UP_USAGE

if TYPE_CHECKING:
    from ._drivers import AsyncDriver, SyncDriver
    from ._engine import Engine, Plan
    from ._loop import Opened
    from .spend import SpendRecord

__all__ = ["AsyncStream", "ReplayStream", "Stream", "StreamState"]


class StreamState:
    """What has been seen of a stream so far: its text, its finish reason and its usage."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.usage: Any = None
        self.usage_made_up = False  # litellm's own count of a stream the provider sent no usage for
        self.finish_reason: str | None = None

    def add(self, chunk: Any) -> None:
        usage = getattr(chunk, "usage", None)
        if usage is not None and (getattr(usage, "prompt_tokens", None) or getattr(usage, "completion_tokens", None)):
            self.usage = usage
            hidden = getattr(chunk, "_hidden_params", None)
            self.usage_made_up = isinstance(hidden, dict) and bool(hidden.get(MADE_UP_USAGE))
        for choice in getattr(chunk, "choices", None) or ():
            delta = getattr(choice, "delta", None)
            if delta is not None:
                self.parts.extend(_billed_text(delta))
            if getattr(choice, "finish_reason", None):
                self.finish_reason = choice.finish_reason

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def settle(self, engine: Engine, plan: Plan, model: str, attempt: int, started: float, *, tier: str,
               ended: bool, error: BaseException | None) -> tuple[RouteInfo, SpendRecord]:
        if self.usage is not None and not self.usage_made_up:  # the provider's count: delivered whole
            return engine.finish(plan, model, attempt, self.usage, started, tier=tier)
        status = "estimated" if ended else ("error" if isinstance(error, ProviderError) else "cancelled")
        return engine.finish_estimated(plan, model, attempt, self.text, started, status=status, tier=tier)


def _billed_text(delta: Any) -> list[str]:
    """Every generated text in a delta (answer, reasoning, refusal, tool-call names and
    arguments): what an estimate counts when a stream ends before its usage."""
    parts = [getattr(delta, name, None) for name in ("content", "reasoning_content", "refusal")]
    for call in getattr(delta, "tool_calls", None) or ():
        function = getattr(call, "function", None)
        parts += [getattr(function, "name", None), getattr(function, "arguments", None)]
    return [p for p in parts if isinstance(p, str) and p]


class ReplayStream:
    """A cached answer replayed as a stream; ``costroute`` is known from the start."""

    def __init__(self, chunks: list[Any], info: RouteInfo) -> None:
        self.costroute: RouteInfo | None = info
        self.request_id, self.model, self.tier = info.request_id, info.model, info.tier
        self._chunks = iter(chunks)

    def __iter__(self) -> ReplayStream:
        return self

    def __next__(self) -> Any:
        return next(self._chunks)

    def __aiter__(self) -> ReplayStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None

    def close(self) -> None:
        self._chunks = iter(())

    async def aclose(self) -> None:
        self.close()

    def __enter__(self) -> ReplayStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> ReplayStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


def _known(engine: Engine, opened: Opened) -> tuple[str, str, str]:
    """What a live stream tells its caller before it ends: request id, model and quality tier."""
    return opened.plan.request_id, opened.model, engine.tier_label(opened.plan, opened.model)


class _Booked:
    """Where a stream's pump leaves its booking once it has ended."""

    __slots__ = ("info",)

    def __init__(self) -> None:
        self.info: RouteInfo | None = None

    def __call__(self, info: RouteInfo) -> None:
        self.info = info


class Stream:
    """A sync stream of chunks. ``costroute`` is set once it has ended (or been closed);
    ``request_id``, ``model`` (the model answering) and ``tier`` (its quality tier) are known
    from the start."""

    def __init__(self, driver: SyncDriver, opened: Opened) -> None:
        self.request_id, self.model, self.tier = _known(driver.engine, opened)
        self._booked = _Booked()  # the pump holds this, not the stream: dropping the stream closes it
        self._chunks = driver.pump(opened, self._booked)
        next(self._chunks)  # armed: closing or dropping the stream now books it

    @property
    def costroute(self) -> RouteInfo | None:
        return self._booked.info

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> Any:
        return next(self._chunks)

    def close(self) -> None:
        """Stop reading; what was read so far is accounted for."""
        self._chunks.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStream:
    """An async stream of chunks. ``costroute`` is set once it has ended (or been closed);
    ``request_id``, ``model`` and ``tier`` are known from the start, as for :class:`Stream`."""

    def __init__(self, driver: AsyncDriver, opened: Opened) -> None:
        self.request_id, self.model, self.tier = _known(driver.engine, opened)
        self._booked = _Booked()
        self._chunks = driver.pump(opened, self._booked)

    @property
    def costroute(self) -> RouteInfo | None:
        return self._booked.info

    async def start(self) -> AsyncStream:
        """Arm the stream, so closing or dropping it books it (the client does this before
        handing the stream out)."""
        await self._chunks.__anext__()
        return self

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        """Stop reading; what was read so far is accounted for."""
        await self._chunks.aclose()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
