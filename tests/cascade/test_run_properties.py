"""Properties of every run: it only makes calls its worst case lists, asks each model at most once,
books exactly what its calls cost, and answers with a model it was allowed to use."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from costroute.cascade import AgreementVerifier, Cascade, JudgeVerifier, LogprobVerifier, Step

from .conftest import QUESTION, drive

MODELS = ["m0", "m1", "m2", "m3", "m4", "m5"]
COST = {m: Decimal(i + 1) / 1000 for i, m in enumerate(MODELS)}


@st.composite
def cascades(draw: st.DrawFn) -> Cascade:
    pool = draw(st.permutations(MODELS))
    n_steps = draw(st.integers(1, 3))
    steps = [Step(m, draw(st.none() | st.floats(0, 1))) for m in pool[:n_steps]]
    final = pool[n_steps]
    verifiers: list = []
    if draw(st.booleans()):
        with_ = draw(st.lists(st.sampled_from(MODELS), min_size=1, max_size=3, unique=True))
        verifiers.append(AgreementVerifier(tuple(with_), min=draw(st.integers(1, len(with_)))))
    if draw(st.booleans()):
        verifiers.append(LogprobVerifier(draw(st.floats(-2, 0))))
    if draw(st.booleans()) or not verifiers:
        verifiers.append(JudgeVerifier(draw(st.sampled_from(MODELS)), draw(st.floats(0, 1))))
    return Cascade(steps, final, verifiers, require=draw(st.sampled_from(["any", "all"])),
                   skip_above=draw(st.none() | st.floats(0, 1)), parallel=draw(st.booleans()),
                   stream_mode=draw(st.sampled_from(["verified", "first_step_unverified"])))


@settings(max_examples=300, deadline=None)
@given(cascades(), st.dictionaries(st.sampled_from(MODELS), st.sampled_from("ABC"), min_size=len(MODELS)),
       st.none() | st.floats(0, 1), st.booleans(), st.frozensets(st.sampled_from(MODELS), max_size=2),
       st.sampled_from(["0", "5", "10", "??"]), st.lists(st.floats(-3, 0), max_size=3))
def test_every_run_keeps_to_its_worst_case(cascade, answers, difficulty, stream, failing, judged, logprobs) -> None:
    run = cascade.start(QUESTION, difficulty=difficulty, stream=stream)
    worst = run.worst_case()
    batches = drive(run, answers, costs=COST, failing=failing, judge=lambda call: judged,
                    logprobs={m: tuple(logprobs) for m in MODELS})
    out = run.outcome
    # the worst case has every call: each model's answer (under whichever role it was planned) and
    # each judged step's own call
    made = Counter((c.model, c.step if c.messages is not None else 0) for batch in batches for c in batch)
    allowed = Counter((p.model, p.step if p.includes_answer else 0) for p in worst)
    assert made <= allowed
    answers_asked = [c.model for batch in batches for c in batch if c.messages is None]
    assert len(answers_asked) == len(set(answers_asked))  # each model answers the request once at most
    assert out.cost_usd == sum((COST[c.model] for batch in batches for c in batch if c.model not in failing),
                               Decimal(0))
    assert out.cost_usd <= sum((COST[p.model] for p in worst), Decimal(0))
    assert len(out.calls) == sum(made.values())
    assert all(p.role != "judge" or p.includes_answer for p in worst)
    if out.model is None:
        assert cascade.final in failing and out.error
    else:
        assert out.model in {s.model for s in cascade.steps} | {cascade.final}
        assert out.text == answers[out.model]
        assert out.model not in failing
    if out.accepted_by == "final":
        assert out.model in (cascade.final, None)
    streamed = [c for batch in batches for c in batch if c.stream]
    assert not streamed or stream
    assert len([c for c in streamed if c.model not in failing]) <= 1  # one answer reaches the caller live
    statuses = {s.step: s.status for s in out.steps}
    assert all(status != "accepted" for step, status in statuses.items() if out.model != cascade.steps[step - 1].model)
