"""Whether a ledger backend can take a write now, without asking it on every request.

A backend is *fresh* for a while after any write or probe succeeded: ``ready()`` then costs a
clock read. After a failure it is *backing off*: ``ready()`` and appends fail at once (with the
last failure's message) until ``retry_s`` has passed, then the next caller probes again. A new
backend starts unknown, so its first ``ready()`` probes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from .._errors import LedgerUnavailable

__all__ = ["Health"]


class Health:
    """The freshness / back-off state of one backend. Thread-safe enough: every field is one
    atomic assignment, and a stale read only costs one extra probe."""

    def __init__(
        self, *, fresh_s: float = 30.0, retry_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fresh_s = fresh_s
        self._retry_s = retry_s
        self._clock = clock
        self._fresh_until = 0.0
        self._retry_at = 0.0
        self._error = ""

    def fresh(self) -> bool:
        """A write or probe succeeded recently: assume the next one will."""
        return self._clock() < self._fresh_until

    def succeeded(self) -> None:
        self._fresh_until = self._clock() + self._fresh_s
        self._error = ""

    def failed(self, error: BaseException) -> None:
        now = self._clock()
        self._fresh_until = 0.0
        self._retry_at = now + self._retry_s
        self._error = str(error)

    def stale(self) -> None:
        """Forget freshness (e.g. the connection broke): the next ``ready()`` probes."""
        self._fresh_until = 0.0

    def check_backoff(self) -> None:
        """Raise ``LedgerUnavailable`` at once while backing off from a recent failure."""
        if self._error and self._clock() < self._retry_at:
            raise LedgerUnavailable(f"{self._error} (the ledger failed moments ago; not retried yet)")

    def gate(self, probe: Callable[[], None]) -> None:
        """``ready()``: nothing while fresh; else fail fast while backing off; else probe."""
        if self.fresh():
            return
        self.check_backoff()
        probe()  # the backend marks success or failure itself

    async def agate(self, probe: Callable[[], Awaitable[None]]) -> None:
        if self.fresh():
            return
        self.check_backoff()
        await probe()
