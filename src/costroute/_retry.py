"""Retry strategy: tenacity decides, the request loop (:mod:`costroute._loop`) waits.

Only retryable provider errors (429, 5xx, timeouts, connection failures) are retried, with
exponential backoff and full jitter; a ``Retry-After`` from the provider is honoured, and when it
asks for longer than the policy allows the model is abandoned for the next candidate instead.
A :class:`tenacity.Retrying` is used only as a decision step (``iter``); it never sleeps itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from ._errors import AuthenticationError, BudgetExceeded, ContextWindowExceededError, ProviderError
from .policies import RetryConfig

__all__ = ["AttemptRun", "falls_back", "retryable"]


def retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


def falls_back(exc: BaseException) -> bool:
    """Whether another candidate may succeed where this one failed."""
    return retryable(exc) or isinstance(exc, AuthenticationError | ContextWindowExceededError)


def _retry_after(state: RetryCallState) -> float | None:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    return getattr(exc, "retry_after", None)


class _WaitRetryAfter(wait_base):
    """The provider's Retry-After when it gave one, else exponential backoff with jitter."""

    def __init__(self, config: RetryConfig) -> None:
        self._backoff = wait_random_exponential(multiplier=config.backoff_s, max=config.max_backoff_s)

    def __call__(self, retry_state: RetryCallState) -> float:
        after = _retry_after(retry_state)
        return float(after) if after is not None else float(self._backoff(retry_state))


class _StopOnLongRetryAfter(stop_base):
    def __init__(self, limit: float) -> None:
        self._limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        after = _retry_after(retry_state)
        return after is not None and after > self._limit


def _options(config: RetryConfig, attempts: int) -> dict[str, Any]:
    return {
        "stop": stop_after_attempt(max(1, attempts)) | _StopOnLongRetryAfter(config.max_retry_after_s),
        "wait": _WaitRetryAfter(config),
        "retry": retry_if_exception(retryable),
        "reraise": True,
    }


def _never_sleep(seconds: float) -> None:  # pragma: no cover - the loop yields Sleep instead
    raise AssertionError("the request loop waits; tenacity only decides")


class AttemptRun:
    """The bookkeeping of one request's attempts, shared by the sync and async drivers.

    Models come from the plan's order; a ``downgrade`` budget refusal replaces what is left with
    cheaper models; a failure that another model may not repeat moves on to the next one. The
    drivers only call, wait and reserve.
    """

    def __init__(self, order: Sequence[str], config: RetryConfig,
                 downgrades: Callable[[str, Sequence[str]], list[str]], *, start: int = 0) -> None:
        self.config = config
        self.count = start  # attempts of the request so far (a cascade's calls share one count)
        self._start = start
        self._queue = list(order)
        self._tried: list[str] = []
        self._downgrades = downgrades
        self._last: BaseException | None = None

    def next_model(self) -> str | None:
        if not self._queue or self.count - self._start >= self.config.max_attempts:
            return None
        model = self._queue.pop(0)
        self._tried.append(model)
        return model

    def per_model(self) -> int:
        return min(self.config.attempts_per_model, self.config.max_attempts - (self.count - self._start))

    def retrying(self) -> Retrying:
        """The decision step for the attempts at the current model."""
        return Retrying(sleep=_never_sleep, **_options(self.config, self.per_model()))

    def begin(self) -> float:
        self.count += 1
        return time.perf_counter()

    def refused(self, model: str, exc: BudgetExceeded) -> None:
        """A budget refused ``model``: downgrade if the budget allows it, else give up."""
        if exc.action != "downgrade":
            raise exc
        self._queue = self._downgrades(model, self._tried)
        self._last = exc

    def failed(self, exc: ProviderError) -> None:
        if not falls_back(exc):
            raise exc
        self._last = exc

    def exhausted(self) -> BaseException:
        assert self._last is not None
        return self._last
