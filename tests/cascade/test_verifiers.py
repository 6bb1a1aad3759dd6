"""The built-in verifiers, judged directly (no cascade around them)."""

from __future__ import annotations

from typing import Any

import pytest

from costroute.cascade import (
    AgreementVerifier,
    Answer,
    Check,
    JudgeVerifier,
    LogprobVerifier,
    Need,
    Prompt,
    Verifier,
    normalize,
    parse_judge_score,
)

MESSAGES = [{"role": "user", "content": "Which is a fruit?\nA) carrot\nB) apple\nC) leek"}]
PROMPT = Prompt.from_messages(MESSAGES)


def check(answer: str, *, model: str = "small", kind: Any = "choice",
          logprobs: tuple[float, ...] | None = None) -> Check:
    return Check(PROMPT, MESSAGES, model, Answer(answer, logprobs), kind, 1, lambda t: normalize(kind, t, PROMPT))


def test_every_builtin_is_a_verifier() -> None:
    for v in (AgreementVerifier(("a",)), LogprobVerifier(-0.3), JudgeVerifier("j", 0.7)):
        assert isinstance(v, Verifier)


def test_agreement_counts_normalized_answers_and_never_the_candidate_itself() -> None:
    v = AgreementVerifier(("small", "x", "y"), min=2)
    assert [n.model for n in v.needs("small")] == ["x", "y"]
    results = {Need("x"): Answer("(B) apple"), Need("y"): Answer("apple")}
    verdict = v.verdict(check("B"), results)
    assert verdict.accepted and verdict.score == 2 and "2 of 2 agree (B)" in verdict.detail
    results[Need("y")] = Answer("C")
    verdict = v.verdict(check("B"), results)
    assert not verdict.accepted and verdict.label == "reject" and "y=C" in verdict.detail


def test_agreement_with_a_failed_call_or_no_answer_rejects() -> None:
    v = AgreementVerifier(("x",))
    assert not v.verdict(check("B"), {Need("x"): None}).accepted
    # two answers that name no option do not agree with each other
    assert not v.verdict(check("I cannot say"), {Need("x"): Answer("I cannot say")}).accepted


def test_agreement_cannot_reach_min_when_the_candidate_is_one_of_its_models() -> None:
    v = AgreementVerifier(("small", "x"), min=2)
    verdict = v.verdict(check("B"), {Need("x"): Answer("B")})
    assert verdict.abstained and not verdict.accepted


def test_agreement_similarity_threshold_for_free_text() -> None:
    strict = AgreementVerifier(("x",), min_similarity={"text": 0.95})
    loose = AgreementVerifier(("x",), min_similarity={"text": 0.5})
    results = {Need("x"): Answer("The capital of France is Paris")}
    candidate = check("the capital of france is paris, of course", kind="text")
    assert not strict.verdict(candidate, results).accepted
    assert loose.verdict(candidate, results).accepted


def test_logprob() -> None:
    v = LogprobVerifier(-0.35)
    assert v.step_params == {"logprobs": True}
    assert v.verdict(check("B", logprobs=(-0.1, -0.2)), {}).accepted
    low = v.verdict(check("B", logprobs=(-0.1, -2.0)), {})
    assert not low.accepted and low.score == pytest.approx(-1.05)
    missing = v.verdict(check("B"), {})
    assert missing.abstained and not missing.accepted
    assert v.verdict(check("B", logprobs=(float("-inf"), -0.1)), {}).accepted  # non-finite values are ignored


def test_judge_builds_its_messages_and_reads_the_score() -> None:
    v = JudgeVerifier("judge-model", 0.7, rubric="Be strict.")
    (need,) = v.needs("small")
    assert need.kind == "own" and need.role == "judge" and need.model == "judge-model"
    assert need.max_output_tokens == 8 and need.extra_input_tokens > 0
    messages = v.messages(need, check("B) apple"))
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith("Be strict.")
    assert "<answer>\nB) apple\n</answer>" in messages[1]["content"]
    assert "Which is a fruit?" in messages[1]["content"]
    assert v.verdict(check("B"), {need: Answer("8")}).accepted
    assert not v.verdict(check("B"), {need: Answer("6/10")}).accepted
    assert v.verdict(check("B"), {need: Answer("no idea")}).abstained
    assert v.verdict(check("B"), {need: None}).abstained


@pytest.mark.parametrize(
    ("reply", "score"),
    [("8", 0.8), ("10", 1.0), ("0", 0.0), ("8/10", 0.8), ("Score: 7", 0.7), ('{"score": 9}', 0.9),
     ("0.85", 0.85), ("4 / 5", 0.8), ("11", None), ("-1", None), ("", None), ("great answer", None)],
)
def test_parse_judge_score(reply: str, score: float | None) -> None:
    got = parse_judge_score(reply)
    assert got == (pytest.approx(score) if score is not None else None)
