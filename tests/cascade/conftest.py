"""A driver for cascade runs that answers from a table instead of calling models."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from costroute.cascade import Answer, Call, CascadeRun

QUESTION = [{"role": "user", "content": "Which is a fruit?\nA) carrot\nB) apple\nC) leek"}]


def drive(
    run: CascadeRun,
    answers: Mapping[str, str],
    *,
    costs: Mapping[str, Decimal] | None = None,
    failing: frozenset[str] = frozenset(),
    judge: Callable[[Call], str] = lambda call: "9",
    logprobs: Mapping[str, tuple[float, ...]] | None = None,
) -> list[list[Call]]:
    """Answer every call ``run`` asks for until it is done; returns the batches it asked for."""
    batches: list[list[Call]] = []
    while calls := run.next_calls():
        batches.append(list(calls))
        for call in calls:
            cost = (costs or {}).get(call.model, Decimal("0.001"))
            if call.model in failing:
                run.fail(call.key, "boom", cost_usd=Decimal(0))
            elif call.messages is not None:
                run.receive(call.key, Answer(judge(call), None, cost))
            else:
                run.receive(call.key, Answer(answers[call.model], (logprobs or {}).get(call.model), cost))
    return batches
