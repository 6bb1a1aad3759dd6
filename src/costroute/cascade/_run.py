"""The cascade as a pure state machine: it says which calls to make, and the driver makes them.

The same code decides at request time (the client's loop drives it with real calls) and offline
(``costroute eval --strategy cascade`` drives it with recorded answers). Driving it::

    cascade = Cascade.from_config(policy.cascade)        # once per policy, when the client is built
    run = cascade.start(messages, difficulty=score, stream=False)
    reserve(run.worst_case())                            # every step, verifier call and the final
    while calls := run.next_calls():                     # a batch: may be sent concurrently
        for call in calls:
            try:
                reply = send(call.model, call.messages or messages, {**params, **call.params},
                             max_tokens=call.max_output_tokens or params.get("max_tokens"),
                             stream=call.stream and stream)
            except ProviderError as exc:
                run.fail(call.key, str(exc), cost_usd=what_it_cost)
            else:
                run.receive(call.key, Answer(reply.text, reply.logprobs, reply.cost_usd))
    outcome = run.outcome                                # the accepted answer and the trace

* ``call.messages`` is ``None`` for the request itself (send the caller's messages, adding
  ``call.params``, e.g. ``logprobs=True``); a judge's call brings its own messages and a small
  ``max_output_tokens``.
* Every call of a batch must be answered (``receive`` or ``fail``, after the driver's own retries
  and fallbacks) before the next ``next_calls()``.
* ``call.stream`` marks the one call whose answer is returned unverified (the final model, or the
  first step with ``stream: first_step_unverified``): only that one may be streamed to the caller
  live; an accepted step's answer is in ``outcome.text`` and is replayed as a stream.
* Record each call from ``outcome.calls`` (model, role, step, cost, verdict); answer with the
  response of ``outcome.answer_key``; ``outcome.model is None`` means the final call failed (raise
  its error). ``outcome.explain()`` is the JSON-able trace for ``resp.costroute``.

A model's answer to the request is asked for at most once per run: an agreement model's answer
is reused when that model is a later step (and the other way round).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from costroute.cascade._config import CascadeConfig
from costroute.cascade._normalize import Normalized, normalize
from costroute.cascade._prompt import Kind, Prompt, detect_kind
from costroute.cascade._registry import VerifierRegistry
from costroute.cascade._verifiers import Answer, Check, Need, Verdict, Verifier

__all__ = ["Call", "CallRecord", "Cascade", "CascadeOutcome", "CascadeRun", "PlannedCall", "Step", "StepTrace"]

Role = Literal["cascade_step", "verifier", "judge"]
Status = Literal["accepted", "escalated", "skipped", "failed", "unverified", "final"]


@dataclass(frozen=True, slots=True)
class Step:
    """A step of the cascade: ``model``, skipped for prompts at least ``skip_above`` difficult."""

    model: str
    skip_above: float | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """A call to make now. ``messages`` is ``None`` for the request's own messages (the driver
    sends the request as it is, with ``params`` added); a judge's call carries its own.
    ``max_output_tokens`` is a cap of the cascade's own (``None``: the request's). ``stream``:
    this answer is returned unverified, so the driver may stream it to the caller as it arrives.
    ``step`` is 1-based; the final model's step is ``len(steps) + 1``."""

    key: str
    model: str
    role: Role
    step: int
    messages: tuple[Mapping[str, Any], ...] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    max_output_tokens: int | None = None
    stream: bool = False


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """A call a run may make, for reserving its worst case before the first one: the request's
    input plus ``extra_input_tokens`` (plus the judged answer when ``includes_answer``), and up to
    ``max_output_tokens`` out (``None``: the request's cap)."""

    model: str
    role: Role
    step: int
    extra_input_tokens: int = 0
    includes_answer: bool = False
    max_output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A call the run made, for the ledger: ``verdict`` is what came of it (``accepted:agreement``,
    ``escalated``, ``final``, ``agreement:reject``, ``judge:accept``, ``failed``...)."""

    key: str
    model: str
    role: Role
    step: int
    cost_usd: Decimal
    verdict: str
    failed: bool = False
    error: str = ""


@dataclass(frozen=True, slots=True)
class StepTrace:
    """What happened at one step: its ``status``, each verifier's verdict, and why."""

    step: int
    model: str
    status: Status
    verdicts: tuple[Verdict, ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CascadeOutcome:
    """The accepted answer and how it was reached. ``model``/``answer_key`` are ``None`` and
    ``error`` says why when the final call failed (the driver raises its error)."""

    model: str | None
    answer_key: str | None
    text: str
    accepted_by: str
    reason: str
    steps: tuple[StepTrace, ...]
    calls: tuple[CallRecord, ...]
    cost_usd: Decimal
    difficulty: float | None = None
    kind: Kind | None = None
    error: str | None = None

    def explain(self) -> dict[str, Any]:
        """A JSON-able summary: what was tried, each verdict, why it was accepted or escalated."""
        return {
            "strategy": "cascade",
            "model": self.model,
            "accepted_by": self.accepted_by,
            "reason": self.reason,
            "difficulty": self.difficulty,
            "task": self.kind,
            "cost_usd": str(self.cost_usd),
            "steps": [
                {"step": s.step, "model": s.model, "status": s.status, "reason": s.reason,
                 "verdicts": [{"verifier": v.verifier, "verdict": v.label, "detail": v.detail} for v in s.verdicts]}
                for s in self.steps
            ],
            "calls": [{"model": c.model, "role": c.role, "step": c.step, "verdict": c.verdict,
                       "cost_usd": str(c.cost_usd)} for c in self.calls],
        }


def _rank(verifier: Verifier, models: Sequence[str]) -> int:
    """0: needs no calls; 1: only other models' answers; 2: calls of its own (a judge)."""
    needs = [n for m in models for n in verifier.needs(m)]
    return 2 if any(n.kind == "own" for n in needs) else (1 if needs else 0)


class Cascade:
    """A policy's cascade, built once; :meth:`start` begins one run per request.

    Verifiers are tried cheapest first: those needing no call (logprob), then those needing
    other models' answers (agreement), then those making calls of their own (judge). With
    ``require="any"`` the first to accept ends the step; with ``"all"`` the first to reject does.
    """

    def __init__(
        self,
        steps: Sequence[str | Step],
        final: str,
        verifiers: Sequence[Verifier],
        *,
        require: Literal["any", "all"] = "any",
        skip_above: float | None = None,
        stream_mode: Literal["verified", "first_step_unverified"] = "verified",
        task: Kind | Literal["auto"] = "auto",
        parallel: bool = True,
    ) -> None:
        self.steps = tuple(Step(s) if isinstance(s, str) else s for s in steps)
        if not self.steps or not verifiers:
            raise ValueError("a cascade needs at least one step and one verifier")
        self.final = final
        models = [s.model for s in self.steps]
        self.verifiers = tuple(sorted(verifiers, key=lambda v: _rank(v, models)))
        self.require = require
        self.skip_above = skip_above
        self.stream_mode = stream_mode
        self.task = task
        self.parallel = parallel
        params: dict[str, Any] = {}
        for v in self.verifiers:
            params.update(v.step_params)
        self.step_params: Mapping[str, Any] = params

    @classmethod
    def from_config(
        cls, config: CascadeConfig, *, registry: VerifierRegistry | None = None, where: str = "cascade"
    ) -> Cascade:
        """Build from a policy's ``cascade:`` section; verifiers come from ``registry`` (by
        default the built-ins and the ``costroute.verifiers`` plug-ins)."""
        registry = registry or VerifierRegistry.default()
        verifiers = []
        for name, params in config.accept.configured().items():
            loc = f"{where}.accept.{name}" if name in ("agreement", "logprob", "judge") else \
                f"{where}.accept.plugins.{name}"
            verifiers.append(registry.build(name, params, where=loc))
        return cls(
            [Step(s.model, s.skip_above) for s in config.steps], config.final, verifiers,
            require=config.require, skip_above=config.skip_above, stream_mode=config.stream,
            task=config.task, parallel=config.parallel,
        )

    @property
    def models(self) -> list[str]:
        """Every model a run may call, in first-call order."""
        seen = dict.fromkeys(p.model for p in self.worst_case())
        return list(seen)

    def plan(self, difficulty: float | None, stream: bool = False) -> tuple[list[int], list[StepTrace]]:
        """Indices of the steps a run with this difficulty tries, and the skipped ones' traces."""
        if stream and self.stream_mode == "first_step_unverified":
            active, skipped = self._active(difficulty)
            return active[:1], skipped
        return self._active(difficulty)

    def _active(self, difficulty: float | None) -> tuple[list[int], list[StepTrace]]:
        if difficulty is not None and self.skip_above is not None and difficulty >= self.skip_above:
            why = f"difficulty {difficulty:.3f} >= skip_above {self.skip_above}: straight to the final model"
            return [], [StepTrace(i + 1, s.model, "skipped", reason=why) for i, s in enumerate(self.steps)]
        active: list[int] = []
        skipped: list[StepTrace] = []
        for i, s in enumerate(self.steps):
            if difficulty is not None and s.skip_above is not None and difficulty >= s.skip_above:
                skipped.append(StepTrace(i + 1, s.model, "skipped",
                                         reason=f"difficulty {difficulty:.3f} >= the step's skip_above {s.skip_above}"))
            else:
                active.append(i)
        return active, skipped

    def worst_case(self, *, difficulty: float | None = None, stream: bool = False) -> tuple[PlannedCall, ...]:
        """Every call a run may make: each tried step, each verifier's calls, the final call (with
        ``stream`` and ``first_step_unverified``: the first step, and the final should it fail)."""
        active, _ = self.plan(difficulty, stream)
        unverified = stream and self.stream_mode == "first_step_unverified"
        asked: set[str] = set()
        out: list[PlannedCall] = []
        for i in active:
            model = self.steps[i].model
            if model not in asked:
                asked.add(model)
                out.append(PlannedCall(model, "cascade_step", i + 1))
            if unverified:  # the first step streams unverified; the final answers only if it fails
                break
            for v in self.verifiers:
                for need in v.needs(model):
                    if need.kind == "own":
                        out.append(PlannedCall(need.model, need.role, i + 1, need.extra_input_tokens, True,
                                               need.max_output_tokens))
                    elif need.model not in asked:
                        asked.add(need.model)
                        out.append(PlannedCall(need.model, "verifier", i + 1, max_output_tokens=need.max_output_tokens))
        if self.final not in asked:
            out.append(PlannedCall(self.final, "cascade_step", len(self.steps) + 1))
        return tuple(out)

    def start(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        difficulty: float | None = None,
        stream: bool = False,
        kind: Kind | None = None,
        prompt: Prompt | None = None,
        memo: dict[tuple[str, str], Normalized | None] | None = None,
    ) -> CascadeRun:
        """A run for one request. ``kind`` overrides the task kind (else the policy's ``task``,
        else detected from the prompt and the first answers). ``prompt`` (the parsed request) and
        ``memo`` (normalized answers by ``(kind, text)``) may be shared by replays of one prompt."""
        return CascadeRun(self, messages, difficulty=difficulty, stream=stream, kind=kind,
                          prompt=prompt, memo=memo)


@dataclass(slots=True)
class _Issued:
    call: Call
    verifier: str | None  # the verifier that asked for it (None: a step's or the final's own call)
    answer: Answer | None = None
    failed: bool = False
    done: bool = False
    error: str = ""


class CascadeRun:
    """One request's way through a :class:`Cascade` (see the module docstring for driving it)."""

    def __init__(
        self,
        cascade: Cascade,
        messages: Sequence[Mapping[str, Any]],
        *,
        difficulty: float | None,
        stream: bool,
        kind: Kind | None,
        prompt: Prompt | None,
        memo: dict[tuple[str, str], Normalized | None] | None,
    ) -> None:
        self.cascade = cascade
        self.messages = messages
        self.difficulty = difficulty
        self.stream = stream
        self.unverified = stream and cascade.stream_mode == "first_step_unverified"
        self.prompt = prompt if prompt is not None else Prompt.from_messages(messages)
        self._kind: Kind | None = kind or (None if cascade.task == "auto" else cascade.task)
        self._memo = memo if memo is not None else {}
        self._plan, skipped = cascade.plan(difficulty, stream)
        self._trace: list[StepTrace] = skipped
        self._pos = 0
        self._verifier = 0
        self._verdicts: list[Verdict] = []
        self._issued: dict[str, _Issued] = {}
        self._pending: set[str] = set()
        self._outcome: CascadeOutcome | None = None
        self._batch: tuple[Call, ...] | None = None
        self._batch = self._advance()

    # -- the driver's side ---------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self._outcome is not None

    @property
    def outcome(self) -> CascadeOutcome:
        if self._outcome is None:
            raise RuntimeError("the cascade has not finished: make the calls next_calls() returns")
        return self._outcome

    def worst_case(self) -> tuple[PlannedCall, ...]:
        """Every call this run may make (see :meth:`Cascade.worst_case`)."""
        return self.cascade.worst_case(difficulty=self.difficulty, stream=self.stream)

    def next_calls(self) -> tuple[Call, ...]:
        """The calls to make now (empty once the run is done)."""
        if self._pending:
            raise RuntimeError(f"answer every call of the last batch first; waiting for {sorted(self._pending)}")
        if self._batch is None:
            self._batch = self._advance()
        batch, self._batch = self._batch, None
        self._pending = {c.key for c in batch}
        return batch

    def receive(self, key: str, answer: Answer) -> None:
        """The result of call ``key``."""
        issued = self._take(key)
        issued.answer, issued.done = answer, True

    def fail(self, key: str, reason: str, *, cost_usd: Decimal = Decimal(0)) -> None:
        """Call ``key`` failed (after the driver's own retries and fallbacks); ``cost_usd`` is
        what it cost nonetheless."""
        issued = self._take(key)
        issued.answer, issued.failed, issued.done, issued.error = Answer("", None, cost_usd), True, True, reason

    def _take(self, key: str) -> _Issued:
        if key not in self._pending:
            raise KeyError(f"{key!r} is not a call awaiting its result")
        self._pending.discard(key)
        return self._issued[key]

    # -- deciding ------------------------------------------------------------------------------

    def _issue(self, call: Call, verifier: str | None) -> Call:
        self._issued[call.key] = _Issued(call, verifier)
        return call

    def _answer_call(self, model: str, role: Role, step: int, verifier: str | None,
                     params: Mapping[str, Any] | None = None, stream: bool = False) -> Call:
        return self._issue(Call(f"answer:{model}", model, role, step, params=dict(params or {}), stream=stream),
                           verifier)

    def _result(self, key: str) -> _Issued | None:
        issued = self._issued.get(key)
        return issued if issued is not None and issued.done else None

    def _advance(self) -> tuple[Call, ...]:
        """Decide until calls are needed (returned) or the run is done (``()``)."""
        cascade = self.cascade
        while self._outcome is None:
            if self._pos >= len(self._plan):
                return self._final()
            index = self._plan[self._pos]
            model, step = cascade.steps[index].model, index + 1
            key = f"answer:{model}"
            if key not in self._issued:
                return self._step_batch(model, step)
            issued = self._issued[key]
            assert issued.done and issued.answer is not None
            if issued.failed:
                self._escalate(model, step, "failed", "the call failed")
                continue
            if self.unverified:
                self._trace.append(StepTrace(step, model, "unverified", reason="streamed unverified"))
                self._finish(model, key, "unverified", f"step {step} {model}: streamed unverified (stream: "
                             "first_step_unverified)")
                return ()
            batch = self._verify(model, step, issued.answer)
            if batch:
                return batch
        return ()

    def _step_batch(self, model: str, step: int) -> tuple[Call, ...]:
        cascade = self.cascade
        batch = [self._answer_call(model, "cascade_step", step, None, cascade.step_params, stream=self.unverified)]
        if cascade.parallel and not self.unverified:
            for v in cascade.verifiers:
                for need in v.needs(model):
                    if need.kind == "answer" and f"answer:{need.model}" not in self._issued:
                        batch.append(self._answer_call(need.model, "verifier", step, v.name, dict(need.params)))
        return tuple(batch)

    def _final(self) -> tuple[Call, ...]:
        cascade = self.cascade
        model, step = cascade.final, len(cascade.steps) + 1
        key = f"answer:{model}"
        if key not in self._issued:
            return (self._answer_call(model, "cascade_step", step, None, stream=self.stream),)
        issued = self._issued[key]
        tried = [t for t in self._trace if t.status != "skipped"]
        why = "no step was accepted" if tried else (self._trace[0].reason if self._trace else "no steps")
        if issued.failed:
            self._finish(None, None, "final", f"final {model}: the call failed",
                         error=f"the final model {model} failed")
        else:
            self._finish(model, key, "final", f"final {model} answered unverified: {why}")
        return ()

    def _kind_now(self) -> Kind:
        if self._kind is None:
            texts = [i.answer.text for i in self._issued.values() if i.done and not i.failed and i.answer is not None
                     and i.call.messages is None]
            self._kind = detect_kind(self.prompt, texts)
        return self._kind

    def _normalizer(self, kind: Kind) -> Any:
        memo, prompt = self._memo, self.prompt

        def normalized(text: str) -> Normalized | None:
            key = (kind, text)
            if key not in memo:
                memo[key] = normalize(kind, text, prompt)
            return memo[key]

        return normalized

    def _verify(self, model: str, step: int, answer: Answer) -> tuple[Call, ...]:
        """Run the step's verifiers from where they stopped; calls when one needs them."""
        cascade = self.cascade
        kind = self._kind_now()
        check = Check(self.prompt, self.messages, model, answer, kind, step, self._normalizer(kind))
        while self._verifier < len(cascade.verifiers):
            v = cascade.verifiers[self._verifier]
            needs = list(v.needs(model))
            missing = [n for n in needs if self._need_key(n, step) not in self._issued]
            if missing:
                return tuple(self._need_call(n, v, step, check) for n in missing)
            results: dict[Need, Answer | None] = {}
            for need in needs:
                got = self._result(self._need_key(need, step))
                results[need] = None if got is None or got.failed else got.answer
            verdict = v.verdict(check, results)
            self._verdicts.append(verdict)
            self._verifier += 1
            if cascade.require == "any" and verdict.accepted:
                self._accept(model, step, verdict.verifier, verdict.detail)
                return ()
            if cascade.require == "all" and not verdict.accepted:
                break
        if cascade.require == "all" and self._verdicts and all(v.accepted for v in self._verdicts):
            names = "+".join(v.verifier for v in self._verdicts)
            self._accept(model, step, names, "; ".join(v.detail for v in self._verdicts))
            return ()
        self._escalate(model, step, "escalated", "; ".join(f"{v.verifier}: {v.detail}" for v in self._verdicts))
        return ()

    def _need_key(self, need: Need, step: int) -> str:
        return f"answer:{need.model}" if need.kind == "answer" else f"{need.role}:{need.name}:{need.model}@{step}"

    def _need_call(self, need: Need, verifier: Verifier, step: int, check: Check) -> Call:
        if need.kind == "answer":
            return self._answer_call(need.model, "verifier", step, verifier.name, dict(need.params))
        messages = tuple(verifier.messages(need, check))
        call = Call(self._need_key(need, step), need.model, need.role, step, messages=messages,
                    params=dict(need.params), max_output_tokens=need.max_output_tokens)
        return self._issue(call, verifier.name)

    def _accept(self, model: str, step: int, by: str, detail: str) -> None:
        self._trace.append(StepTrace(step, model, "accepted", tuple(self._verdicts), reason=detail))
        self._finish(model, f"answer:{model}", by, f"step {step} {model} accepted by {by}: {detail}")

    def _escalate(self, model: str, step: int, status: Status, reason: str) -> None:
        self._trace.append(StepTrace(step, model, status, tuple(self._verdicts), reason=reason))
        self._pos += 1
        self._verifier = 0
        self._verdicts = []

    def _finish(self, model: str | None, key: str | None, by: str, reason: str, *, error: str | None = None) -> None:
        accepted = self._result(key) if key is not None else None
        text = accepted.answer.text if accepted is not None and accepted.answer is not None else ""
        records = tuple(self._record(i, key, by) for i in self._issued.values() if i.done)
        self._outcome = CascadeOutcome(
            model=model, answer_key=key, text=text, accepted_by=by, reason=reason,
            steps=tuple(sorted(self._trace, key=lambda t: t.step)), calls=records,
            cost_usd=sum((r.cost_usd for r in records), Decimal(0)), difficulty=self.difficulty,
            kind=self._kind, error=error,
        )

    def _record(self, issued: _Issued, accepted_key: str | None, by: str) -> CallRecord:
        call = issued.call
        cost = issued.answer.cost_usd if issued.answer is not None else Decimal(0)
        return CallRecord(call.key, call.model, call.role, call.step, cost, self._verdict_of(issued, accepted_key, by),
                          failed=issued.failed, error=issued.error)

    def _verdict_of(self, issued: _Issued, accepted_key: str | None, by: str) -> str:
        if issued.failed:
            return "failed"
        call = issued.call
        if call.key == accepted_key:
            return "final" if by == "final" else f"accepted:{by}"
        if call.messages is None:  # a model's answer to the request: what came of it as a candidate
            for t in self._trace:
                if f"answer:{t.model}" == call.key and t.status != "skipped":
                    return t.status
        for t in self._trace:  # a verifier's call: that verifier's verdict at the step it served
            if t.step == call.step:
                for v in t.verdicts:
                    if v.verifier == issued.verifier:
                        return f"{v.verifier}:{v.label}"
        return f"{issued.verifier}:unused" if issued.verifier else "unused"
