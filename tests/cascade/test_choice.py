"""Multiple-choice answers reduced to the option letter they pick."""

from __future__ import annotations

import pytest

from costroute.cascade import Prompt, choice_letter

PALMS = Prompt.from_text(
    "Which surface?\nA) dry palms\nB) wet palms\nC) palms covered with oil\nD) questioning attitude")
NAMES = Prompt.from_text("Jeffrey asked Hunter because _ was his best man.\nA) Jeffrey\nB) Hunter")


@pytest.mark.parametrize(
    ("answer", "letter"),
    [
        ("B", "B"), ("b", "B"), ("B\n", "B"), (" (C) ", "C"), ("C)", "C"), ("A.", "A"), ("**D**", "D"),
        ("Answer: C", "C"), ("The answer is (B).", "B"), ("the correct option is D", "D"),
        ("B) wet palms", "B"), ("D (questioning attitude)", "D"), ("(A) dry palms, because friction", "A"),
        ("wet palms", "B"), ("Wet palms.", "B"), ("palms covered with o", "C"),
        ("I think it is palms covered with oil here", "C"),
        ("A questioning attitude", "D"),  # an article, not option A: the text names D
        ("B wet palms", "B"),
        ("I do not have enough context", None), ("Unfortunately I cannot", None), ("", None),
        ("E", None),  # not an option of this question
        ("palms", None),  # names several options
    ],
)
def test_letters(answer: str, letter: str | None) -> None:
    assert choice_letter(answer, PALMS) == letter


def test_names_as_option_text_including_cut_off_prefixes() -> None:
    assert choice_letter("Hunter", NAMES) == "B"
    assert choice_letter("Jeff", NAMES) == "A"
    assert choice_letter("Je", NAMES) is None  # too short a prefix to trust


def test_without_listed_options_letters_a_to_h_are_understood() -> None:
    bare = Prompt.from_text("Which is right? Answer with a letter.")
    assert choice_letter("(E)", bare) == "E"
    assert choice_letter("Z", bare) is None
