"""Group commits: the rows of every writer waiting at once go into one transaction.

Writers queue a *ticket* (their rows) and wait for it. One of them leads: it takes everything
queued (up to ``max_batch`` rows), writes it as one transaction, wakes the writers it served, and
goes on until its own ticket is done; then it hands the lead to the next waiting writer. There is
no timer: a lone writer commits at once (no added latency), and while one transaction is being
written the next writers queue up, so under load each transaction carries many records. The
queue is bounded by the writers waiting on it: every writer waits for its own ticket.

The durability promise is unchanged: a writer returns only after the transaction holding its
rows committed, or with that transaction's error (every writer in a failed batch gets it).

Async writers never block their event loop. They are led either by an asyncio task running the
async write (PostgreSQL's ``AsyncConnection``) or, for a backend without one (SQLite), by the
backend's worker thread running the sync write. A cancelled async writer does not stop the
transaction its rows are in.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .._errors import LedgerUnavailable

__all__ = ["GroupCommitter"]

Rows = Sequence[Any]
_RECHECK_S = 0.5  # a waiting writer re-checks that someone leads this often


class _Ticket:
    __slots__ = ("done", "error", "event", "future", "lead", "loop", "rows")

    def __init__(
        self, rows: Rows, loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.rows = rows
        self.loop = loop
        self.future = future
        self.event = threading.Event() if loop is None else None
        self.done = False
        self.lead = False  # set by a leader handing over to this (sync) writer
        self.error: BaseException | None = None


def _copy(error: BaseException) -> BaseException:
    """Each writer raises its own exception object (tracebacks are per raise)."""
    if isinstance(error, LedgerUnavailable):
        copy = LedgerUnavailable(str(error))
        copy.__cause__ = error.__cause__
        copy.__suppress_context__ = True
        return copy
    return error


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return  # the writer was cancelled; its rows were written (or failed) all the same
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class GroupCommitter:
    """Commits the rows of concurrent writers together (see the module docstring).

    ``write(rows)`` writes one transaction (raising ``LedgerUnavailable`` on failure);
    ``awrite(rows)`` is its async twin, or ``None`` when async writers are led by
    ``run_in_worker(fn)``, which runs ``fn`` on the backend's worker thread.
    ``max_batch=1`` gives one transaction per writer (single commits).
    """

    def __init__(
        self, write: Callable[[list[Any]], None], *,
        awrite: Callable[[list[Any]], Awaitable[None]] | None = None,
        run_in_worker: Callable[[Callable[[], None]], None] | None = None,
        max_batch: int = 512,
    ) -> None:
        if awrite is None and run_in_worker is None:
            raise ValueError("give awrite or run_in_worker")
        self._write = write
        self._awrite = awrite
        self._run_in_worker = run_in_worker
        self._max_batch = max(1, max_batch)
        self._lock = threading.Lock()
        self._pending: deque[_Ticket] = deque()
        self._leading = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # transactions written (for tests and benchmarks)

    # -- writers ----------------------------------------------------------------------------
    def submit(self, rows: Rows) -> None:
        """Write ``rows`` (with whatever else is waiting); returns once they are committed."""
        ticket = _Ticket(rows)
        if self._enqueue(ticket):
            self._lead(ticket)
        else:
            assert ticket.event is not None
            while not ticket.done:
                ticket.event.wait(_RECHECK_S)
                ticket.event.clear()
                if ticket.lead or self._orphaned(ticket):
                    self._lead(ticket)
        if ticket.error is not None:
            raise ticket.error

    async def asubmit(self, rows: Rows) -> None:
        """The async twin of :meth:`submit`: waits without blocking the event loop."""
        loop = asyncio.get_running_loop()
        ticket = _Ticket(rows, loop, loop.create_future())
        if self._enqueue(ticket):
            self._start_async_leader(loop)
        assert ticket.future is not None
        await ticket.future

    def _enqueue(self, ticket: _Ticket) -> bool:
        """Queue the ticket; True if the caller must lead."""
        with self._lock:
            self._pending.append(ticket)
            if self._leading:
                return False
            self._leading = True
            return True

    def _orphaned(self, ticket: _Ticket) -> bool:
        """Nobody leads although this ticket waits (a leader died): take the lead."""
        with self._lock:
            if self._leading or ticket.done:
                return False
            self._leading = True
            return True

    # -- leading ------------------------------------------------------------------------------
    def _take(self) -> list[_Ticket]:
        """Up to ``max_batch`` rows of queued tickets (at least one ticket). Holds the lock."""
        batch: list[_Ticket] = []
        size = 0
        while self._pending and (not batch or size + len(self._pending[0].rows) <= self._max_batch):
            ticket = self._pending.popleft()
            batch.append(ticket)
            size += len(ticket.rows)
        return batch

    def _lead(self, mine: _Ticket | None) -> None:
        """Write batches until ``mine`` is done (``None``: until nothing is queued), then hand
        the lead over, or give it up if nobody waits."""
        batch: list[_Ticket] = []
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        self._leading = False
                        return
                    if mine is not None and mine.done and self._hand_over():
                        return
                    batch = self._take()
                self._commit(batch)
                batch = []
        except BaseException as exc:  # interrupted mid-batch: fail it, hand the queue over
            self._abandon(batch, exc)
            raise

    def _hand_over(self) -> bool:
        """Give the lead to the first queued writer. Holds the lock."""
        nxt = self._pending[0]
        if nxt.loop is None:
            assert nxt.event is not None
            nxt.lead = True
            nxt.event.set()
            return True
        try:
            nxt.loop.call_soon_threadsafe(self._start_async_leader, nxt.loop)
        except RuntimeError:  # that loop is closed: keep leading here
            return False
        return True

    def _start_async_leader(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._awrite is None:
            assert self._run_in_worker is not None
            try:
                self._run_in_worker(lambda: self._lead(None))
            except RuntimeError as exc:  # the worker is shut down (ledger closed)
                self._abandon([], LedgerUnavailable(f"the ledger is closed: {exc}"))
            return
        task = loop.create_task(self._alead())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _alead(self) -> None:
        assert self._awrite is not None
        batch: list[_Ticket] = []
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        self._leading = False
                        return
                    batch = self._take()
                rows = [row for t in batch for row in t.rows]
                try:
                    await self._awrite(rows)
                except Exception as exc:
                    self._resolve(batch, exc)
                else:
                    self._resolve(batch, None)
                batch = []
        except BaseException as exc:  # cancelled (its loop is shutting down)
            self._abandon(batch, exc)
            raise

    def _commit(self, batch: list[_Ticket]) -> None:
        rows = [row for t in batch for row in t.rows]
        try:
            self._write(rows)
        except Exception as exc:
            self._resolve(batch, exc)
        else:
            self._resolve(batch, None)

    def _resolve(self, batch: list[_Ticket], error: BaseException | None) -> None:
        self.batches += 1
        for ticket in batch:
            ticket.error = None if error is None else _copy(error)
            ticket.done = True
            if ticket.event is not None:
                ticket.event.set()
            else:
                assert ticket.loop is not None and ticket.future is not None
                with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits any more
                    ticket.loop.call_soon_threadsafe(_settle, ticket.future, ticket.error)

    def _abandon(self, batch: Sequence[_Ticket], exc: BaseException) -> None:
        """The leader stops abnormally: its batch fails; the lead goes to a waiting sync writer
        (which re-checks within ``_RECHECK_S``), or is given up."""
        error = LedgerUnavailable(f"the ledger writer was interrupted ({type(exc).__name__})")
        self._resolve([t for t in batch if not t.done], error)
        with self._lock:
            self._leading = False
            for ticket in self._pending:
                if ticket.event is not None:
                    ticket.event.set()  # it will find nobody leading and take the lead
                    return
            leftovers = list(self._pending)
            self._pending.clear()
        self._resolve(leftovers, error)
