"""CascadeRun: which calls it asks for, what it accepts, and the trace it leaves."""

from __future__ import annotations

from decimal import Decimal

import pytest

from costroute.cascade import (
    AgreementVerifier,
    Answer,
    Cascade,
    JudgeVerifier,
    LogprobVerifier,
    PlannedCall,
    Step,
)

from .conftest import QUESTION, drive


def keys(batches: list) -> list[list[str]]:
    return [[c.key for c in batch] for batch in batches]


def test_accepted_at_the_first_step_when_the_agreement_models_agree() -> None:
    cascade = Cascade(["mid"], "big", [AgreementVerifier(("tiny", "small"), min=2)])
    run = cascade.start(QUESTION)
    batches = drive(run, {"mid": "B", "tiny": "(B)", "small": "apple"})
    assert keys(batches) == [["answer:mid", "answer:tiny", "answer:small"]]  # asked together (parallel)
    out = run.outcome
    assert (out.model, out.accepted_by, out.text, out.kind) == ("mid", "agreement", "B", "choice")
    assert out.cost_usd == Decimal("0.003")
    assert [(c.model, c.role, c.step, c.verdict) for c in out.calls] == [
        ("mid", "cascade_step", 1, "accepted:agreement"),
        ("tiny", "verifier", 1, "agreement:accept"),
        ("small", "verifier", 1, "agreement:accept"),
    ]
    assert out.steps[0].status == "accepted" and "2 of 2 agree (B)" in out.reason


def test_escalates_to_the_next_step_and_reuses_answers_already_given() -> None:
    # step 2 is one of the agreement models: its answer is already there, nothing is asked twice
    cascade = Cascade(["mid", "small"], "big", [AgreementVerifier(("tiny", "small"), min=1)])
    run = cascade.start(QUESTION)
    batches = drive(run, {"mid": "A", "tiny": "B", "small": "B", "big": "B"})
    assert keys(batches) == [["answer:mid", "answer:tiny", "answer:small"]]
    out = run.outcome
    assert (out.model, out.accepted_by) == ("small", "agreement")
    assert [s.status for s in out.steps] == ["escalated", "accepted"]
    assert {c.model: c.verdict for c in out.calls} == {
        "mid": "escalated", "tiny": "agreement:reject", "small": "accepted:agreement"}


def test_falls_through_to_the_final_model_which_answers_unverified() -> None:
    cascade = Cascade(["mid"], "big", [AgreementVerifier(("tiny",))])
    run = cascade.start(QUESTION, stream=True)
    batches = drive(run, {"mid": "A", "tiny": "C", "big": "B"})
    assert keys(batches) == [["answer:mid", "answer:tiny"], ["answer:big"]]
    assert [c.stream for c in batches[0]] == [False, False]
    assert batches[1][0].stream and batches[1][0].step == 2  # unverified, so it may stream live
    out = run.outcome
    assert (out.model, out.accepted_by, out.text) == ("big", "final", "B")
    assert "no step was accepted" in out.reason
    assert out.calls[-1].verdict == "final"


def test_sequential_verifiers_ask_for_calls_only_when_needed() -> None:
    cascade = Cascade(["mid"], "big", [JudgeVerifier("judge", 0.7), AgreementVerifier(("tiny",)),
                                       LogprobVerifier(-0.5)], parallel=False)
    assert [v.name for v in cascade.verifiers] == ["logprob", "agreement", "judge"]  # cheapest first
    confident = cascade.start(QUESTION)
    batches = drive(confident, {"mid": "B"}, logprobs={"mid": (-0.1,)})
    assert keys(batches) == [["answer:mid"]]
    assert batches[0][0].params == {"logprobs": True}
    assert confident.outcome.accepted_by == "logprob"

    unsure = cascade.start(QUESTION)
    batches = drive(unsure, {"mid": "B", "tiny": "C", "big": "B"}, logprobs={"mid": (-2.0,)},
                    judge=lambda call: "9")
    assert keys(batches) == [["answer:mid"], ["answer:tiny"], ["judge:judge:judge@1"]]
    judge_call = batches[2][0]
    assert judge_call.role == "judge" and judge_call.max_output_tokens == 8 and judge_call.messages is not None
    assert judge_call.params == {"temperature": 0}
    out = unsure.outcome
    assert out.accepted_by == "judge"
    assert [v.label for v in out.steps[0].verdicts] == ["reject", "reject", "accept"]
    assert {c.role: c.verdict for c in out.calls} == {
        "cascade_step": "accepted:judge", "verifier": "agreement:reject", "judge": "judge:accept"}


def test_require_all_stops_at_the_first_rejection() -> None:
    cascade = Cascade(["mid"], "big", [AgreementVerifier(("tiny",)), JudgeVerifier("judge", 0.7)],
                      require="all", parallel=False)
    both = cascade.start(QUESTION)
    drive(both, {"mid": "B", "tiny": "B"}, judge=lambda call: "8")
    assert both.outcome.accepted_by == "agreement+judge"
    assert both.outcome.calls[0].verdict == "accepted:agreement+judge"
    first_rejects = cascade.start(QUESTION)
    batches = drive(first_rejects, {"mid": "B", "tiny": "C", "big": "B"})
    assert keys(batches) == [["answer:mid"], ["answer:tiny"], ["answer:big"]]  # the judge is never asked
    assert first_rejects.outcome.accepted_by == "final"


def test_a_failed_step_escalates_and_a_failed_final_ends_with_an_error() -> None:
    cascade = Cascade(["mid", "small"], "big", [AgreementVerifier(("tiny",))])
    run = cascade.start(QUESTION)
    drive(run, {"small": "B", "tiny": "B"}, failing=frozenset({"mid"}))
    out = run.outcome
    assert out.model == "small" and [s.status for s in out.steps] == ["failed", "accepted"]
    assert out.calls[0].failed and out.calls[0].verdict == "failed" and out.calls[0].error == "boom"

    broken = cascade.start(QUESTION)
    drive(broken, {"mid": "A", "small": "C", "tiny": "B"}, failing=frozenset({"big"}))
    assert broken.outcome.model is None and broken.outcome.answer_key is None
    assert broken.outcome.error == "the final model big failed"


def test_difficulty_skips_the_cascade_or_chooses_its_first_step() -> None:
    cascade = Cascade([Step("tiny", skip_above=0.3), "mid"], "big", [AgreementVerifier(("small",))],
                      skip_above=0.9)
    easy = cascade.start(QUESTION, difficulty=0.1)
    assert [c.model for c in easy.next_calls()] == ["tiny", "small"]
    medium = cascade.start(QUESTION, difficulty=0.5)
    assert [c.model for c in medium.next_calls()] == ["mid", "small"]
    hard = cascade.start(QUESTION, difficulty=0.95)
    assert [(c.model, c.step) for c in hard.next_calls()] == [("big", 3)]
    hard.receive("answer:big", Answer("B"))
    assert hard.next_calls() == ()
    out = hard.outcome
    assert [s.status for s in out.steps] == ["skipped", "skipped"]
    assert "skip_above 0.9" in out.reason and out.difficulty == 0.95
    assert cascade.start(QUESTION).next_calls()[0].model == "tiny"  # no difficulty: nothing skipped


def test_streaming_the_first_step_unverified() -> None:
    cascade = Cascade(["mid"], "big", [AgreementVerifier(("tiny",))], stream_mode="first_step_unverified")
    run = cascade.start(QUESTION, stream=True)
    batches = drive(run, {"mid": "A"})
    assert keys(batches) == [["answer:mid"]] and batches[0][0].stream
    assert run.outcome.accepted_by == "unverified" and run.outcome.calls[0].verdict == "accepted:unverified"
    assert run.worst_case() == (PlannedCall("mid", "cascade_step", 1), PlannedCall("big", "cascade_step", 2))
    fallback = cascade.start(QUESTION, stream=True)
    drive(fallback, {"big": "B"}, failing=frozenset({"mid"}))
    assert fallback.outcome.model == "big"  # the streamed step failed before its first chunk
    verified = cascade.start(QUESTION)  # without stream=True the cascade verifies as usual
    assert [c.model for c in verified.next_calls()] == ["mid", "tiny"]


def test_worst_case_lists_every_call_once_per_answer_and_per_judged_step() -> None:
    cascade = Cascade(["mid", "small"], "big", [AgreementVerifier(("tiny", "small"), min=1),
                                                JudgeVerifier("judge", 0.5)])
    planned = cascade.worst_case()
    assert [(p.model, p.role, p.step) for p in planned] == [
        ("mid", "cascade_step", 1), ("tiny", "verifier", 1), ("small", "verifier", 1), ("judge", "judge", 1),
        ("judge", "judge", 2), ("big", "cascade_step", 3),
    ]
    judge = planned[3]
    assert judge.includes_answer and judge.max_output_tokens == 8 and judge.extra_input_tokens > 50
    assert cascade.models == ["mid", "tiny", "small", "judge", "big"]
    assert cascade.worst_case(difficulty=0.5) == planned


def test_the_driver_must_answer_each_batch_before_asking_again() -> None:
    run = Cascade(["mid"], "big", [AgreementVerifier(("tiny",))]).start(QUESTION)
    run.next_calls()
    run.receive("answer:mid", Answer("B"))
    with pytest.raises(RuntimeError, match="answer:tiny"):
        run.next_calls()
    with pytest.raises(KeyError):
        run.receive("answer:mid", Answer("B"))  # already answered
    with pytest.raises(KeyError):
        run.receive("answer:nobody", Answer("B"))
    with pytest.raises(RuntimeError, match="not finished"):
        run.outcome  # noqa: B018


def test_the_task_kind_can_be_fixed() -> None:
    cascade = Cascade(["mid"], "big", [AgreementVerifier(("tiny",))], task="text")
    run = cascade.start(QUESTION)
    drive(run, {"mid": "apple it is", "tiny": "apple it is!", "big": "B"})
    assert run.outcome.kind == "text" and run.outcome.accepted_by == "agreement"
    forced = cascade.start(QUESTION, kind="choice")
    drive(forced, {"mid": "apple it is", "tiny": "B", "big": "B"})
    assert forced.outcome.kind == "choice" and forced.outcome.model == "mid"


def test_explain_is_json_ready() -> None:
    import json

    run = Cascade(["mid"], "big", [AgreementVerifier(("tiny",))]).start(QUESTION, difficulty=0.2)
    drive(run, {"mid": "B", "tiny": "C", "big": "B"})
    summary = json.loads(json.dumps(run.outcome.explain()))
    assert summary["model"] == "big" and summary["accepted_by"] == "final"
    assert summary["steps"][0]["verdicts"][0] == {"verifier": "agreement", "verdict": "reject",
                                                  "detail": "0 of 1 agree (B), 1 needed; differ: tiny=C"}
    assert [c["model"] for c in summary["calls"]] == ["mid", "tiny", "big"]


def test_a_cascade_needs_a_step_and_a_verifier() -> None:
    with pytest.raises(ValueError):
        Cascade([], "big", [AgreementVerifier(("tiny",))])
    with pytest.raises(ValueError):
        Cascade(["mid"], "big", [])
