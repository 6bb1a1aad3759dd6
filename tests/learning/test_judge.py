"""The pairwise judge's pure parts: prompts, verdict parsing, and the position-swapped label."""

from __future__ import annotations

import pytest

from costroute.learning import (
    DEFAULT_RUBRIC,
    JudgeRubric,
    judge_scores,
    pairwise_prompts,
    parse_verdict,
    question_text,
    swapped_label,
)


def test_the_two_prompts_swap_the_answers_positions() -> None:
    first, second = pairwise_prompts("What is 2+2?", "routed says 4", "reference says four")
    a_first = first[1]["content"]
    a_second = second[1]["content"]
    assert a_first.index("routed says 4") < a_first.index("reference says four")
    assert a_second.index("reference says four") < a_second.index("routed says 4")
    assert "What is 2+2?" in a_first and "What is 2+2?" in a_second
    assert first[0]["role"] == "system" and DEFAULT_RUBRIC in first[0]["content"]
    assert first[0] == second[0]  # the same instructions in both orders


def test_a_configured_rubric_replaces_the_default() -> None:
    rubric = JudgeRubric("Only the final number matters.", name="math")
    first, _ = pairwise_prompts("q", "a", "b", rubric=rubric)
    assert "Only the final number matters." in first[0]["content"]
    assert DEFAULT_RUBRIC not in first[0]["content"]
    with pytest.raises(ValueError):
        JudgeRubric("   ")


def test_a_conversation_is_shown_to_the_judge_as_role_lines() -> None:
    msgs = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Name a prime."}, {"type": "image_url"}]},
    ]
    assert question_text(msgs) == "system: Be brief.\nuser: Name a prime."
    first, _ = pairwise_prompts(msgs, "2", "3")
    assert "user: Name a prime." in first[1]["content"]


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("A is right and B is wrong.\n[[A]]", "A"),
        ("reasoning...\n[[B]]", "B"),
        ("Both fine. [[C]]", "tie"),
        ("[[ tie ]]", "tie"),
        ("I first thought [[A]] but on reflection [[B]]", "B"),  # the last mark counts
        ("Final verdict: B", "B"),
        ("Verdict: **A**", "A"),
        ("They are equally good.", "tie"),
        ("I cannot decide which is better.", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_verdict(reply: str | None, verdict: str | None) -> None:
    assert parse_verdict(reply) == verdict


@pytest.mark.parametrize(
    ("first", "second", "label"),
    [
        ("A", "B", 1.0),  # the routed answer wins in both positions
        ("tie", "tie", 1.0),  # as good as the reference
        ("A", "tie", 1.0),
        ("B", "A", 0.0),  # loses in both positions
        ("A", "A", 0.5),  # the judge picked position A both times: order bias, cancelled
        ("B", "B", 0.5),
        ("tie", "A", 0.5),
        (None, "B", None),  # one order alone would keep the bias
        ("A", None, None),
    ],
)
def test_swapped_label(first: str | None, second: str | None, label: float | None) -> None:
    assert swapped_label(first, second) == label  # type: ignore[arg-type]


def test_judge_scores_make_the_reference_the_yardstick() -> None:
    assert judge_scores("cheap", "ref", 0.5) == {"cheap": 0.5, "ref": 1.0}
    assert judge_scores("ref", "ref", 1.0) == {"ref": 1.0}
    with pytest.raises(ValueError):
        judge_scores("cheap", "ref", 1.5)
