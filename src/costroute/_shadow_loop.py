"""Shadow sampling: a share of live requests also answered by a reference model, in the background.

After the user's request has been answered (never delaying or changing that answer), a sampled
request is sent again to the policy's ``shadow.reference``; a judge compares the routed answer with
the reference's twice, the two positions swapped, and the label it gives (1: at least as good,
0: worse) is kept as ``judge`` feedback on the user's request, for ``costroute train
--from-ledger`` (application feedback overrides it). The same request-loop effects as any request:
the worst case of the three calls is reserved first on the daily shadow budget and on the budgets
that cover it (the calls are tagged ``costroute: shadow``, so per-user budgets do not count them),
each call is booked (``role`` ``shadow`` or ``judge``, linked by ``parent_request_id``), then settled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from ._engine import Engine, Plan, new_request_id
from ._errors import BudgetExceeded, BudgetStoreUnavailable, ProviderError
from ._loop import Ready, Record, Release, Reserve, Steps, _settle, _Slot, _tries
from ._retry import AttemptRun
from .cascade import Call, PlannedCall
from .learning import JudgeRubric, pairwise_prompts, parse_verdict, swapped_label
from .spend import Budgets, Reservation, Tags
from .spend._money import round_micros

__all__ = ["Label", "shadow"]

SHADOW_TAGS = Tags({"costroute": "shadow"})
_JUDGE_TOKENS = 256  # a judge's reply: its reasoning and the [[A]]/[[B]] verdict


@dataclass(frozen=True, slots=True)
class Label:
    """Keep ``score`` as the judge's feedback on ``request_id``'s answer by ``model``."""

    request_id: str
    score: float
    model: str


def shadow(engine: Engine, plan: Plan, routed_model: str, routed_text: str,
           daily: Budgets | None) -> Steps[float | None]:
    """The shadow of one answered request; returns the judge's label (``None``: skipped or
    unusable). Refusals (the daily cap, a budget) and provider failures end it quietly."""
    cfg = plan.policy.config.shadow
    assert cfg is not None
    judge = cfg.judge or cfg.reference
    base = replace(plan, request_id=new_request_id(), parent_request_id=plan.request_id, tags=SHADOW_TAGS)
    asked = Call("shadow", cfg.reference, "verifier", 0, max_output_tokens=cfg.max_output_tokens)
    reference = replace(engine.subplan(base, asked), role="shadow")
    answer_tokens = plan.needs.input_tokens + 2 * cfg.max_output_tokens + 200  # both answers and the rubric
    worst = engine.cascade_worst_cases(base, (
        PlannedCall(cfg.reference, "cascade_step", 0, max_output_tokens=cfg.max_output_tokens),
        PlannedCall(judge, "judge", 0, extra_input_tokens=answer_tokens, max_output_tokens=_JUDGE_TOKENS),
        PlannedCall(judge, "judge", 0, extra_input_tokens=answer_tokens, max_output_tokens=_JUDGE_TOKENS),
    ))
    holds: list[tuple[str, Reservation]] = []
    try:
        yield Ready()
        for budgets in (daily, engine.budgets):
            if budgets is not None:
                for model, amount in worst.items():
                    args = engine.reservation_args(base, model, amount=amount)
                    holds.append((model, (yield Reserve(args, budgets))))
    except (BudgetExceeded, BudgetStoreUnavailable):
        for _, hold in holds:
            yield Release(hold)
        return None
    booked: dict[str, Decimal] = {}
    count = 0
    try:
        text, count = yield from _ask(engine, reference, cfg.reference, count, booked)
        label = None
        if text is not None:
            first, second = pairwise_prompts(tuple(plan.messages), routed_text, text, rubric=_rubric(cfg.rubric))
            verdicts: list[Any] = []
            for messages in (first, second):
                call = Call("judge", judge, "judge", 0, messages=tuple(messages), max_output_tokens=_JUDGE_TOKENS)
                reply, count = yield from _ask(engine, engine.subplan(base, call), judge, count, booked)
                verdicts.append(parse_verdict(reply))
            label = swapped_label(verdicts[0], verdicts[1])
    except BaseException:
        for _, hold in holds:
            yield Release(hold)
        raise
    for model, hold in holds:
        yield from _settle(engine, base, model, hold, booked.get(model, Decimal(0)))
    if label is not None:
        yield Label(plan.request_id, label, routed_model)
    return label


def _ask(engine: Engine, sub: Plan, model: str, count: int,
         booked: dict[str, Decimal]) -> Steps[tuple[str | None, int]]:
    """One call with its model's retries, booked; its answer's text (``None`` if it failed)."""
    attempts = AttemptRun((model,), sub.policy.config.retry, lambda m, tried: [], start=count)
    attempts.next_model()
    slot = _Slot(tier=engine.tier_for(sub, model), shared=True)
    try:
        response, started = yield from _tries(engine, sub, attempts, model, slot)
    except ProviderError:
        booked[model] = booked.get(model, Decimal(0)) + round_micros(slot.billed)
        return None, attempts.count
    info, record = engine.finish(sub, model, attempts.count, getattr(response, "usage", None), started,
                                 response=response, tier=slot.tier)
    booked[model] = booked.get(model, Decimal(0)) + round_micros(slot.billed) + round_micros(info.cost_usd)
    yield Record(record)
    choices = getattr(response, "choices", None) or []
    content = getattr(getattr(choices[0], "message", None), "content", None) if choices else None
    return (str(content) if content else ""), attempts.count


def _rubric(text: str | None) -> Any:
    return JudgeRubric(text) if text else JudgeRubric()
