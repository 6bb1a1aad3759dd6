"""Deadlines for operations on a database socket that the driver itself cannot bound.

A frozen server (a stopped process, a host that vanished) keeps its TCP connections open: the
kernel acknowledges what is sent, so neither TCP timeouts nor a server-side statement timeout
ever fire, and a query waits forever. The cure is to shut the socket down when the deadline
passes: the driver's wait wakes up, sees the connection closed and raises. ``Watchdog`` does
that for blocking calls, with one thread that sleeps until the earliest armed deadline (and
indefinitely when nothing is armed); :func:`sever` is the same cut for an event loop's
``call_later``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Iterator

__all__ = ["Arm", "Watchdog", "sever"]

_log = logging.getLogger("costroute.spend")


def sever(fd: int) -> None:
    """Shut down (both ways) the socket behind ``fd``, leaving the descriptor itself open for
    its owner to close."""
    try:
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed or not a socket: nothing left to cut
        pass


class Arm:
    """One armed deadline; ``fired`` tells whether the watchdog cut the socket."""

    __slots__ = ("deadline", "fd", "fired")

    def __init__(self, fd: int, deadline: float) -> None:
        self.fd = fd
        self.deadline = deadline
        self.fired = False


class Watchdog:
    """Cuts the socket of any armed operation still running at its deadline."""

    def __init__(self, name: str = "costroute-ledger-watchdog") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._armed: set[Arm] = set()
        self._wake_at = math.inf
        self._thread: threading.Thread | None = None
        self._closed = False

    @contextlib.contextmanager
    def armed(self, fd: int, deadline: float) -> Iterator[Arm]:
        """Within the block, the socket ``fd`` is cut at ``deadline`` (``time.monotonic()``).
        The caller must not close ``fd`` inside the block."""
        arm = Arm(fd, deadline)
        with self._cond:
            self._armed.add(arm)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            if deadline < self._wake_at:
                self._cond.notify()
        try:
            yield arm
        finally:
            with self._cond:
                self._armed.discard(arm)

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                for arm in [a for a in self._armed if a.deadline <= now]:
                    self._armed.discard(arm)
                    arm.fired = True
                    sever(arm.fd)
                    _log.warning("ledger operation passed its deadline: connection cut")
                self._wake_at = min((a.deadline for a in self._armed), default=math.inf)
                self._cond.wait(None if self._wake_at == math.inf else self._wake_at - now)
            self._thread = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)
