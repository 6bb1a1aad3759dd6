"""``client.batches``: submit requests to providers' batch APIs at batch prices, collect later.

Submission routes every item on its own (difficulty → tier → cheapest *batch-capable* model at
*batch* prices: :meth:`Engine.plan` with ``service_tier="batch"``), reserves every item's worst
case at batch prices, **all or nothing** (one refused item releases the holds already made and
raises :class:`~costroute.BudgetExceeded`; nothing is uploaded), with holds that live for the
completion window. Items are grouped per model and endpoint into provider jobs, split at the
provider's request-count and byte limits (:mod:`costroute.providers`). State is written to the
ledger's database before anything is uploaded, so another process can collect.

Collection books each answered item as one record at batch prices (``service_tier="batch"``,
``batch_id``), in the same transaction that marks it answered: booked once however often it is
collected. Its hold is then settled; failed, cancelled and expired items release theirs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from .._caching import cache_call, store_args
from .._engine import Engine, Plan
from .._errors import BatchError, CostrouteError, RequestValidationError
from .._loop import Store
from ..providers._table import provider_rules
from ._state import BatchRow, BatchState, ItemRow, JobRow, keys_from_json, keys_to_json
from ._wire import AnthropicBatchAPI, OpenAIBatchAPI, anthropic_params, openai_body

if TYPE_CHECKING:
    from .._drivers import SyncDriver

__all__ = ["AsyncBatches", "Batch", "BatchItem", "BatchStatus", "Batches"]

log = logging.getLogger("costroute.batches")

BatchStatus = Literal["submitted", "in_progress", "completed", "failed", "cancelled", "expired"]
_WINDOWS = {"24h": 24 * 3600}
_TERMINAL = frozenset({"completed", "failed", "cancelled", "expired"})
_OWN_KEYS = frozenset({"custom_id", "policy", "tags", "stream", "deferrable"})
#: The provider batch APIs costroute submits to (``BatchRules.api``).
_OPENAI, _ANTHROPIC = "openai-batches", "anthropic-message-batches"
_APIS = frozenset({_OPENAI, _ANTHROPIC})
_KEY_ENV = {_OPENAI: "OPENAI_API_KEY", _ANTHROPIC: "ANTHROPIC_API_KEY"}


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch as the ledger knows it. ``counts`` per item state (``held``: not answered yet,
    ``booked``, ``failed``, ``released``); ``cost_usd`` what its answered items cost; ``reserved_usd``
    what is still held for the rest."""

    id: str
    status: BatchStatus
    created_at: datetime
    expires_at: datetime
    policy: str
    counts: Mapping[str, int]
    cost_usd: Decimal
    reserved_usd: Decimal
    jobs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One request's outcome: ``response`` (with ``.costroute`` like a live call) or ``error``."""

    custom_id: str
    response: Any
    error: str | None


class Batches:
    """``client.batches``. Needs a SQLite or PostgreSQL ledger (batch state lives next to the records)."""

    def __init__(self, engine: Engine, driver: SyncDriver) -> None:
        self._engine = engine
        self._driver = driver
        self._state_cache: BatchState | None = None

    @property
    def _state(self) -> BatchState:
        if self._state_cache is None:
            self._state_cache = BatchState(self._engine.ledger)
        return self._state_cache

    # -- submission ----------------------------------------------------------------------------

    def create(self, *, requests: Sequence[Mapping[str, Any]], policy: str = "default",
               tags: Mapping[str, str] | None = None, completion_window: str = "24h") -> Batch:
        """Route, reserve and submit ``requests`` (each a ``create(...)`` call's arguments plus a
        unique ``custom_id``). Raises before any money is held on bad input."""
        engine = self._engine
        if completion_window not in _WINDOWS:
            raise RequestValidationError(f"must be one of {sorted(_WINDOWS)}, not {completion_window!r}",
                                         location="completion_window")
        if not isinstance(requests, Sequence) or isinstance(requests, (str, bytes)) or not requests:
            raise RequestValidationError("must be a non-empty list of requests", location="requests")
        batch_id = "crb-" + os.urandom(12).hex()
        plans: list[tuple[str, dict[str, Any], Plan]] = []
        seen: set[str] = set()
        for i, item in enumerate(requests):
            where = f"requests[{i}]"
            if not isinstance(item, Mapping):
                raise RequestValidationError("must be a mapping", location=where)
            cid = item.get("custom_id")
            if not isinstance(cid, str) or not cid or len(cid) > 64:
                raise RequestValidationError("must be a non-empty string of at most 64 characters",
                                             location=where + ".custom_id")
            if cid in seen:
                raise RequestValidationError(f"{cid!r} appears twice", location=where + ".custom_id")
            seen.add(cid)
            if item.get("stream"):
                raise RequestValidationError("a batch item cannot stream", location=where + ".stream")
            kwargs = {k: v for k, v in item.items() if k not in _OWN_KEYS}
            kwargs.update(policy=policy, tags=dict(tags or {}))
            try:
                plan = engine.plan(kwargs, service_tier="batch", request_id=f"{batch_id}-{i}")
            except RequestValidationError as exc:
                raise RequestValidationError(str(exc), location=f"{where}.{getattr(exc, 'location', '')}") from None
            model = plan.decision.model
            rules = provider_rules(engine.candidate(plan, model).provider).batch
            if rules is None or rules.api not in _APIS:
                raise RequestValidationError(
                    f"routed to {model}, whose provider has no batch API costroute can submit to "
                    "(OpenAI's Batch API, Anthropic's Message Batches)", location=where)
            if rules.api == _ANTHROPIC and int(kwargs.get("n") or 1) != 1:
                raise RequestValidationError("Anthropic's Message Batches answer once per request",
                                             location=where + ".n")
            plans.append((cid, kwargs, plan))
        state = self._state  # the ledger can hold batches: checked before any hold
        window_s = _WINDOWS[completion_window]
        now = engine._now()
        holds: list[Any] = []
        rows: list[ItemRow] = []
        try:
            for i, (cid, kwargs, plan) in enumerate(plans):
                model = plan.decision.model
                hold = None
                if engine.budgets is not None:
                    hold = engine.budgets.reserve(**engine.reservation_args(plan, model), ttl_s=window_s)
                    holds.append(hold)
                rows.append(ItemRow(
                    batch_id, cid, i, plan.request_id, model, "", _json_safe(kwargs, f"requests[{i}]"),
                    hold.id if hold else "", hold.amount if hold else engine.worst_case(plan, model),
                    keys_to_json(hold.keys) if hold else "[]", "held", None, "", Decimal(0)))
            state.add(BatchRow(batch_id, now, policy, dict(tags or {}), completion_window,
                               now + timedelta(seconds=window_s), False), rows)
        except BaseException:
            for h in holds:
                h.release()
            raise
        by_id = {r.custom_id: r for r in rows}
        for group in self._jobs(plans):
            self._submit(batch_id, group, by_id, completion_window)
        return self._view(batch_id)

    def _jobs(self, plans: Sequence[tuple[str, dict[str, Any], Plan]]) -> list[list[tuple[str, Plan, bytes]]]:
        """The provider jobs: one per model and endpoint, split at the provider's limits."""
        engine = self._engine
        groups: dict[tuple[str, str | None], list[list[tuple[str, Plan, bytes]]]] = {}
        for cid, _, plan in plans:
            model = plan.decision.model
            call = engine.call_for(plan, model)
            wire = model.split("/", 1)[1] if "/" in model else model
            rules = provider_rules(call.provider).batch
            assert rules is not None
            if rules.api == _ANTHROPIC:  # one inline request: {custom_id, params}
                params = dict(call.params)
                if not (params.get("max_tokens") or params.get("max_completion_tokens")):
                    params["max_tokens"] = plan.needs.output_tokens  # required; the bound the hold assumed
                entry = {"custom_id": cid, "params": anthropic_params(wire, list(call.messages), params)}
                line = json.dumps(entry).encode() + b"\n"
            else:
                line = json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
                                   "body": {"model": wire, "messages": call.messages, **call.params}}).encode() + b"\n"
            jobs = groups.setdefault((model, call.api_base), [[]])
            current = jobs[-1]
            size = sum(len(x[2]) for x in current)
            if current and ((rules.max_requests and len(current) >= rules.max_requests)
                            or (rules.max_bytes and size + len(line) > rules.max_bytes)):
                jobs.append(current := [])
            current.append((cid, plan, line))
        return [job for jobs in groups.values() for job in jobs]

    def _api(self, plan: Plan, model: str) -> OpenAIBatchAPI | AnthropicBatchAPI:
        call = self._engine.call_for(plan, model)
        key: Any = call.api_key
        secret = key.get_secret_value() if hasattr(key, "get_secret_value") else key
        rules = provider_rules(call.provider).batch
        api = rules.api if rules is not None else _OPENAI
        secret = secret or os.environ.get(_KEY_ENV.get(api, "OPENAI_API_KEY"))
        if api == _ANTHROPIC:
            return AnthropicBatchAPI(call.api_base, secret)
        return OpenAIBatchAPI(call.api_base, secret)

    def _submit(self, batch_id: str, group: list[tuple[str, Plan, bytes]], by_id: Mapping[str, ItemRow],
                window: str) -> None:
        model = group[0][1].decision.model
        api = self._api(group[0][1], model)
        try:
            if isinstance(api, AnthropicBatchAPI):
                job = api.create([json.loads(line) for _, _, line in group])
                job["status"] = job.get("processing_status", "in_progress")
            else:
                file_id = api.upload(b"".join(line for _, _, line in group))
                job = api.create(file_id, window=window, metadata={"costroute_batch": batch_id})
        except CostrouteError as exc:
            log.warning("batch %s: a job for %s was not submitted: %s", batch_id, model, exc)
            for cid, _, _ in group:
                self._drop(by_id[cid], "failed", f"not submitted: {exc}")
            return
        self._state.add_job(JobRow(str(job["id"]), batch_id, model, str(job.get("status", "validating"))),
                            [cid for cid, _, _ in group])

    # -- status and collection -----------------------------------------------------------------

    def retrieve(self, batch_id: str) -> Batch:
        """Poll the batch's provider jobs, collect what finished, and say where it stands."""
        self._collect(batch_id)
        return self._view(batch_id)

    def _view(self, batch_id: str) -> Batch:
        row = self._state.batch(batch_id)
        items = self._state.items(batch_id)
        jobs = self._state.jobs(batch_id)
        counts = {s: sum(1 for i in items if i.state == s) for s in ("held", "booked", "failed", "released")}
        statuses = {j.status for j in jobs}
        status: BatchStatus
        if counts["held"]:  # OpenAI's job statuses; an Anthropic batch is in_progress until it ends
            status = "in_progress" if statuses & {"in_progress", "finalizing", "canceling"} else "submitted"
        elif row.cancelled:
            status = "cancelled"
        elif "expired" in statuses:
            status = "expired"
        elif not counts["booked"]:
            status = "failed"
        else:
            status = "completed"
        return Batch(batch_id, status, row.created_at, row.expires_at, row.policy, counts,
                     sum((i.cost_usd for i in items), Decimal(0)),
                     sum((i.hold_usd for i in items if i.state == "held"), Decimal(0)), tuple(j.job_id for j in jobs))

    def _collect(self, batch_id: str) -> None:
        row = self._state.batch(batch_id)
        items = self._state.items(batch_id)
        for job in self._state.jobs(batch_id):
            pending = [i for i in items if i.job_id == job.job_id and i.state == "held"]
            if not pending:
                continue
            plan = self._plan_of(row, pending[0])
            api = self._api(plan, job.model)
            if isinstance(api, AnthropicBatchAPI):
                self._collect_anthropic(row, job, pending, api)
                continue
            info = api.retrieve(job.job_id)
            status = str(info.get("status"))
            if status != job.status:
                self._state.set_job_status(job.job_id, status)
            if status not in _TERMINAL:
                continue
            by_id = {i.custom_id: i for i in pending}
            for file_key in ("output_file_id", "error_file_id"):
                if info.get(file_key):
                    for line in api.content(str(info[file_key])):
                        item = by_id.pop(str(line.get("custom_id")), None)
                        if item is not None:
                            self._settle_line(row, item, line)
            for item in by_id.values():  # no line at all: cancelled or expired before it ran
                self._drop(item, "released", f"batch job {status}")

    def _collect_anthropic(self, row: BatchRow, job: JobRow, pending: list[ItemRow], api: AnthropicBatchAPI) -> None:
        """An Anthropic message batch: once ``ended``, each result books (``succeeded``), fails
        (``errored``) or releases its hold (``canceled``, ``expired``, or no result at all)."""
        info = api.retrieve(job.job_id)
        status = str(info.get("processing_status"))
        if status != "ended":
            if status != job.status:
                self._state.set_job_status(job.job_id, status)
            return
        by_id = {i.custom_id: i for i in pending}
        kinds: set[str] = set()
        for line in api.results(job.job_id):
            item = by_id.pop(str(line.get("custom_id")), None)
            result = line.get("result")
            kind = str(result.get("type")) if isinstance(result, Mapping) else "missing"
            kinds.add(kind)
            if item is None or not isinstance(result, Mapping):
                continue
            message = result.get("message")
            if kind == "succeeded" and isinstance(message, Mapping):
                self._book(row, item, openai_body(dict(message)))
            elif kind == "errored":
                self._drop(item, "failed", json.dumps(result.get("error") or {"message": "errored"})[:500])
            else:
                self._drop(item, "released", f"message batch request {kind}")
        for item in by_id.values():
            self._drop(item, "released", "message batch ended without this request")
        status = "expired" if "expired" in kinds else "ended"
        if status != job.status:
            self._state.set_job_status(job.job_id, status)

    def _plan_of(self, row: BatchRow, item: ItemRow) -> Plan:
        return self._engine.plan(item.request, service_tier="batch", request_id=item.request_id)

    def _settle_line(self, row: BatchRow, item: ItemRow, line: Mapping[str, Any]) -> None:
        response = line.get("response") or {}
        body = response.get("body") if isinstance(response, Mapping) else None
        if not (isinstance(response, Mapping) and response.get("status_code") == 200 and isinstance(body, Mapping)):
            error = line.get("error") or (body or {}).get("error") or {"message": "no answer"}
            self._drop(item, "released" if _code(error) == "batch_expired" else "failed",
                       json.dumps(error)[:500])
            return
        self._book(row, item, dict(body))

    def _book(self, row: BatchRow, item: ItemRow, body: dict[str, Any]) -> None:
        """An answered item: one record at batch prices, booked once; its hold settled; cached."""
        engine = self._engine
        plan = self._plan_of(row, item)
        info, record = engine.finish(plan, item.model, 1, body.get("usage"), time.perf_counter(),
                                     response=None, tier="batch")
        record = dataclasses.replace(record, batch_id=row.id, ts=engine._now())
        if not self._state.book(item, body, record):
            return  # another collector booked it
        if item.hold_id and engine.budgets is not None:
            engine.budgets.held(id=item.hold_id, request_id=item.request_id, amount=item.hold_usd,
                                keys=keys_from_json(item.hold_keys)).settle(record.cost_usd)
        cached = cache_call(engine.cache, plan, item.request, engine.config.tiers)
        if cached is not None and cached.storable and cached.key is not None:
            self._driver.run(_store(cached, store_args(engine, cached, info, response=body)), plan)

    def _drop(self, item: ItemRow, state: str, error: str) -> None:
        if self._state.drop(item, state, error) and item.hold_id and self._engine.budgets is not None:
            self._engine.budgets.held(id=item.hold_id, request_id=item.request_id, amount=item.hold_usd,
                                      keys=keys_from_json(item.hold_keys)).release()

    def results(self, batch_id: str) -> Iterator[BatchItem]:
        """Every item that finished (answered or failed), in submission order; collects first."""
        from ..providers._litellm import response_from_dict

        self._collect(batch_id)
        row = self._state.batch(batch_id)
        for item in self._state.items(batch_id):
            if item.state == "booked" and item.response is not None:
                plan = self._plan_of(row, item)
                info, _ = self._engine.finish(plan, item.model, 1, item.response.get("usage"), time.perf_counter(),
                                              response=None, tier="batch")
                resp = response_from_dict(item.response)
                object.__setattr__(resp, "costroute", info)
                yield BatchItem(item.custom_id, resp, None)
            elif item.state in ("failed", "released"):
                yield BatchItem(item.custom_id, None, item.error or item.state)

    def cancel(self, batch_id: str) -> Batch:
        """Cancel the provider jobs; items that had not run release their holds."""
        self._state.mark_cancelled(batch_id)
        row = self._state.batch(batch_id)
        items = self._state.items(batch_id)
        for job in self._state.jobs(batch_id):
            pending = [i for i in items if i.job_id == job.job_id and i.state == "held"]
            if pending:
                self._api(self._plan_of(row, pending[0]), job.model).cancel(job.job_id)
        return self.retrieve(batch_id)

    def list(self) -> list[Batch]:
        """Every batch in the ledger, newest first (as last collected; not polled)."""
        return [self._view(b) for b in self._state.batch_ids()]

    def wait(self, batch_id: str, *, poll_s: float = 30.0, timeout_s: float | None = None) -> Batch:
        """Poll until the batch is done; raises :class:`~costroute.BatchError` at ``timeout_s``."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            batch = self.retrieve(batch_id)
            if batch.status in _TERMINAL:
                return batch
            if deadline is not None and time.monotonic() + poll_s > deadline:
                raise BatchError(f"batch {batch_id} still {batch.status} after {timeout_s} s")
            time.sleep(poll_s)


class AsyncBatches:
    """``AsyncClient.batches``: :class:`Batches` with each call run in a worker thread (its HTTP
    and SQLite work is blocking)."""

    def __init__(self, batches: Batches) -> None:
        self._sync = batches

    async def create(self, *, requests: Sequence[Mapping[str, Any]], policy: str = "default",
                     tags: Mapping[str, str] | None = None, completion_window: str = "24h") -> Batch:
        return await asyncio.to_thread(self._sync.create, requests=requests, policy=policy, tags=tags,
                                       completion_window=completion_window)

    async def retrieve(self, batch_id: str) -> Batch:
        return await asyncio.to_thread(self._sync.retrieve, batch_id)

    async def results(self, batch_id: str) -> list[BatchItem]:
        return await asyncio.to_thread(lambda: list(self._sync.results(batch_id)))

    async def cancel(self, batch_id: str) -> Batch:
        return await asyncio.to_thread(self._sync.cancel, batch_id)

    async def list(self) -> list[Batch]:
        return await asyncio.to_thread(self._sync.list)

    async def wait(self, batch_id: str, *, poll_s: float = 30.0, timeout_s: float | None = None) -> Batch:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            batch = await self.retrieve(batch_id)
            if batch.status in _TERMINAL:
                return batch
            if deadline is not None and time.monotonic() + poll_s > deadline:
                raise BatchError(f"batch {batch_id} still {batch.status} after {timeout_s} s")
            await asyncio.sleep(poll_s)


def _store(cached: Any, args: dict[str, Any]) -> Generator[Any, Any, None]:
    """A completed item into the response cache, through the driver's Store effect."""
    yield Store(cached, args)


def _code(error: Any) -> str:
    return str(error.get("code", "")) if isinstance(error, Mapping) else ""


def _json_safe(kwargs: Mapping[str, Any], where: str) -> dict[str, Any]:
    try:
        return dict(json.loads(json.dumps(kwargs)))
    except (TypeError, ValueError) as exc:
        raise RequestValidationError(f"cannot be stored as JSON ({exc})", location=where) from None
