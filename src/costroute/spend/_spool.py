"""The durable spool: where a paid answer's record waits while the ledger cannot take it.

:class:`SpooledLedger` wraps a database ledger. When an append fails with
``LedgerUnavailable`` (the provider has already answered and been paid), the record is appended
to a local JSON Lines file instead, flushed and fsynced before ``append`` returns, so the answer
can still be delivered and its record is not lost. ``ready()`` keeps failing while the database
is down (no *new* spending). When the database is back (the next successful ``ready()`` or
``append``, or a read), the spool is replayed into it and truncated: appends are idempotent on
``(request_id, attempt)``, so a replay cut short and repeated still books every record once.

The spool file is created 0600 (its directory 0700), and every change to it holds an exclusive
``fcntl.flock`` on it, so the threads and processes of one host that share a ledger share its
spool safely. It is never renamed or unlinked (other processes may hold it open); replays
truncate it in place. A line left half-written by a process killed mid-write was never
acknowledged; it is moved aside to ``<spool>.rejected`` rather than silently dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TypedDict

from .._errors import LedgerUnavailable
from ._export import record_from_dict, record_to_dict
from ._ledger import Ledger, SummaryRow, check_group_by, matches, normalize, summarize
from ._records import Feedback, FeedbackSource, SpendRecord

__all__ = ["Spool", "SpooledLedger"]

_log = logging.getLogger("costroute.spend")


class _Filters(TypedDict):
    since: datetime | None
    until: datetime | None
    tags: Mapping[str, str] | None
    model: str | None
    policy: str | None

_RECHECK_S = 1.0  # how often an empty spool is looked at again (another process may fill it)
_REPLAY_CHUNK = 1000  # records per replayed transaction


def _report_orphan(task: asyncio.Task[None]) -> None:
    """The caller of a shielded append was cancelled: nobody else will see its failure."""
    if not task.cancelled() and task.exception() is not None:
        _log.error("a spend record could be neither written nor spooled: %s", task.exception())


class Spool:
    """An append-only file of records, shared by threads and processes under ``flock``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r})"

    @contextlib.contextmanager
    def _locked(self, *, create: bool) -> Iterator[int | None]:
        flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT if create else 0)
        if create and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        try:
            fd = os.open(self.path, flags, 0o600)
        except FileNotFoundError:
            if create:
                raise
            yield None
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # releases the lock

    def add(self, records: Sequence[SpendRecord]) -> None:
        """Append ``records`` durably (written, flushed and fsynced before returning).
        Raises ``OSError`` if the file cannot be written."""
        data = "".join(
            json.dumps(record_to_dict(r), sort_keys=True, separators=(",", ":")) + "\n" for r in records
        ).encode()
        created = not self.path.exists()
        with self._locked(create=True) as fd:
            assert fd is not None
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a writer died mid-line: start a fresh one
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        if created:  # make the new file's name durable too
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def size(self) -> int:
        """Bytes waiting (0 when the file does not exist)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def _parse(self, data: bytes) -> tuple[list[SpendRecord], list[bytes]]:
        records: list[SpendRecord] = []
        rejected: list[bytes] = []
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                records.append(record_from_dict(json.loads(line)))
            except (ValueError, TypeError, KeyError):
                rejected.append(line)
        return records, rejected

    def read(self) -> list[SpendRecord]:
        """Every record waiting, in the order spooled."""
        with self._locked(create=False) as fd:
            if fd is None:
                return []
            data = os.pread(fd, os.fstat(fd).st_size, 0)
        return self._parse(data)[0]

    @contextlib.contextmanager
    def draining(self) -> Iterator[list[SpendRecord]]:
        """The records waiting, under the lock; truncated if the block completes."""
        with self._locked(create=False) as fd:
            if fd is None:
                yield []
                return
            data = os.pread(fd, os.fstat(fd).st_size, 0)
            records, rejected = self._parse(data)
            yield records
            if rejected:
                _log.error("ledger spool %s: %d unreadable line(s) moved to %s.rejected",
                           self.path, len(rejected), self.path)
                Spool(f"{self.path}.rejected")._append_raw(b"".join(line + b"\n" for line in rejected))
            os.ftruncate(fd, 0)
            os.fsync(fd)

    def _append_raw(self, data: bytes) -> None:
        with self._locked(create=True) as fd:
            assert fd is not None
            os.write(fd, data)
            os.fsync(fd)


class SpooledLedger:
    """A database ledger whose appends never lose a record (see the module docstring).

    Reads replay the spool first when they can. While records still wait (the database takes
    reads but not writes, e.g. a SQLite file write-locked by another process), ``records()``
    and ``summary()`` include them, so budgets seeded from the ledger count them;
    :meth:`spooled` lists them. Feedback is not spooled: it fails with ``LedgerUnavailable``
    while the database is down.
    """

    def __init__(self, inner: Ledger, spool_path: str | os.PathLike[str]) -> None:
        self.inner = inner
        self.spool = Spool(spool_path)
        self._replaying = threading.Lock()
        self._check_at = 0.0  # monotonic time to look at the spool file again
        self._waiting = True  # unknown at start: look once
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"SpooledLedger({self.inner!r}, spool={str(self.spool.path)!r})"

    @property
    def store_prompts(self) -> bool:
        return self.inner.store_prompts

    @store_prompts.setter
    def store_prompts(self, value: bool) -> None:
        self.inner.store_prompts = value

    # -- the spool ----------------------------------------------------------------------------
    def _maybe_waiting(self) -> bool:
        """Whether records may wait: known from this process, else a ``stat`` at most every
        ``_RECHECK_S`` (another process may have spooled)."""
        now = time.monotonic()
        if self._waiting or now >= self._check_at:
            self._check_at = now + _RECHECK_S
            self._waiting = self.spool.size() > 0
        return self._waiting

    def spooled(self) -> list[SpendRecord]:
        """The records waiting in the spool for the database, in the order spooled."""
        try:
            return self.spool.read()
        except OSError as exc:
            raise LedgerUnavailable(f"cannot read the ledger spool {self.spool.path}: {exc}") from exc

    def replay(self) -> int:
        """Move the spooled records into the database now; returns how many were replayed.
        Raises ``LedgerUnavailable`` if the database (or the spool) cannot take them."""
        with self._replaying:
            try:
                with self.spool.draining() as records:
                    for i in range(0, len(records), _REPLAY_CHUNK):
                        self.inner.append_many(records[i:i + _REPLAY_CHUNK])
            except OSError as exc:
                raise LedgerUnavailable(f"cannot replay the ledger spool {self.spool.path}: {exc}") from exc
            self._waiting = False
            self._check_at = time.monotonic() + _RECHECK_S
        if records:
            _log.warning("ledger is back: %d spooled record(s) replayed from %s", len(records), self.spool.path)
        return len(records)

    def _try_replay(self) -> None:
        if self._maybe_waiting():
            with contextlib.suppress(LedgerUnavailable):
                self.replay()

    def _spool(self, records: list[SpendRecord], failure: LedgerUnavailable) -> None:
        """Keep records the database refused; ``LedgerUnavailable`` if even that fails."""
        try:
            self.spool.add(records)
        except OSError as exc:
            raise LedgerUnavailable(
                f"{failure}; and the records could not be spooled to {self.spool.path}: {exc}"
            ) from exc
        self._waiting = True
        _log.warning("ledger unavailable (%s): %d record(s) spooled to %s", failure, len(records), self.spool.path)

    # -- the protocol: writes -------------------------------------------------------------------
    def ready(self) -> None:
        """The database's ``ready()``; then any spooled records are replayed (a replay that
        fails makes ``ready()`` fail too)."""
        self.inner.ready()
        if self._maybe_waiting():
            self.replay()

    async def aready(self) -> None:
        await self.inner.aready()
        if self._maybe_waiting():
            await asyncio.to_thread(self.replay)

    def append(self, record: SpendRecord) -> None:
        self.append_many([record])

    def append_many(self, records: Iterable[SpendRecord]) -> None:
        batch = [normalize(r, store_prompts=self.store_prompts) for r in records]
        if not batch:
            return
        failure: LedgerUnavailable | None = None
        try:
            self.inner.append_many(batch)
        except LedgerUnavailable as exc:
            failure = exc
        if failure is not None:
            self._spool(batch, failure)
        else:
            self._try_replay()

    async def aappend(self, record: SpendRecord) -> None:
        await self.aappend_many([record])

    async def aappend_many(self, records: Iterable[SpendRecord]) -> None:
        batch = [normalize(r, store_prompts=self.store_prompts) for r in records]
        if not batch:
            return
        # Shielded: a cancelled caller does not stop its paid record from being booked or spooled.
        task = asyncio.ensure_future(self._aappend_or_spool(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_report_orphan)
            raise

    async def _aappend_or_spool(self, batch: list[SpendRecord]) -> None:
        failure: LedgerUnavailable | None = None
        try:
            await self.inner.aappend_many(batch)
        except LedgerUnavailable as exc:
            failure = exc
        if failure is not None:
            await asyncio.to_thread(self._spool, batch, failure)
        elif self._maybe_waiting():
            await asyncio.to_thread(self._try_replay)

    # -- the protocol: reads ----------------------------------------------------------------------
    def _merge(self, found: list[SpendRecord], filters: _Filters, limit: int | None) -> list[SpendRecord]:
        if not self._maybe_waiting():
            return found
        have = {(r.request_id, r.attempt) for r in found}
        extra = [
            r for r in self.spooled()
            if (r.request_id, r.attempt) not in have and matches(r, **filters)
        ]
        if not extra:
            return found
        merged = sorted([*found, *extra], key=lambda r: r.ts)
        return merged if limit is None else merged[:limit]

    def records(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None, limit: int | None = None,
    ) -> list[SpendRecord]:
        """The database's records and, while any wait, the matching spooled ones."""
        self._try_replay()
        filters = _Filters(since=since, until=until, tags=tags, model=model, policy=policy)
        return self._merge(self.inner.records(**filters, limit=limit), filters, limit)

    async def arecords(
        self, *, since: datetime | None = None, until: datetime | None = None,
        tags: Mapping[str, str] | None = None, model: str | None = None,
        policy: str | None = None, limit: int | None = None,
    ) -> list[SpendRecord]:
        if self._maybe_waiting():
            await asyncio.to_thread(self._try_replay)
        filters = _Filters(since=since, until=until, tags=tags, model=model, policy=policy)
        found = await self.inner.arecords(**filters, limit=limit)
        if not self._maybe_waiting():
            return found
        return await asyncio.to_thread(self._merge, found, filters, limit)

    def summary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]:
        """The database's summary; while records still wait in the spool, the summary of the
        database's matching records and the spooled ones (a full read: slower)."""
        self._try_replay()
        filters = _Filters(since=since, until=until, tags=tags, model=model, policy=policy)
        if not self._maybe_waiting():
            return self.inner.summary(group_by=group_by, **filters)
        check_group_by(group_by)
        return summarize(self.records(**filters), group_by)

    async def asummary(
        self, *, group_by: Sequence[str] = (), since: datetime | None = None,
        until: datetime | None = None, tags: Mapping[str, str] | None = None,
        model: str | None = None, policy: str | None = None,
    ) -> list[SummaryRow]:
        if self._maybe_waiting():
            await asyncio.to_thread(self._try_replay)
        filters = _Filters(since=since, until=until, tags=tags, model=model, policy=policy)
        if not self._maybe_waiting():
            return await self.inner.asummary(group_by=group_by, **filters)
        check_group_by(group_by)
        return summarize(await self.arecords(**filters), group_by)

    # -- feedback and closing: the database's own ----------------------------------------------
    def record_feedback(
        self, request_id: str, score: float, ts: datetime, *, source: FeedbackSource = "app",
        model: str = "",
    ) -> None:
        self.inner.record_feedback(request_id, score, ts, source=source, model=model)

    async def arecord_feedback(
        self, request_id: str, score: float, ts: datetime, *, source: FeedbackSource = "app",
        model: str = "",
    ) -> None:
        await self.inner.arecord_feedback(request_id, score, ts, source=source, model=model)

    def feedback(self) -> dict[str, float]:
        return self.inner.feedback()

    async def afeedback(self) -> dict[str, float]:
        return await self.inner.afeedback()

    def feedback_entries(self) -> list[Feedback]:
        return self.inner.feedback_entries()

    async def afeedback_entries(self) -> list[Feedback]:
        return await self.inner.afeedback_entries()

    def close(self) -> None:
        self.inner.close()

    async def aclose(self) -> None:
        await self.inner.aclose()
