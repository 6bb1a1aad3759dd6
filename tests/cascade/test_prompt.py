"""Reading the request: answer options and the task kind."""

from __future__ import annotations

import pytest

from costroute.cascade import Prompt, detect_kind

FEW_SHOT = """Which gas do plants take in?
A) oxygen
B) carbon dioxide
Answer:
B

George wants to warm his hands quickly. Which skin surface will produce the most heat?
A) dry palms
B) wet palms
C) palms covered with oil
D) palms covered with lotion
Print only a single choice from "A" or "B" or "C" or "D" without explanation.
Answer:
"""


def test_options_of_the_last_question_in_a_few_shot_prompt() -> None:
    prompt = Prompt.from_text(FEW_SHOT)
    assert prompt.options == (("A", "dry palms"), ("B", "wet palms"), ("C", "palms covered with oil"),
                              ("D", "palms covered with lotion"))


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ("Pick one (A) red (B) blue (C) green", (("A", "red"), ("B", "blue"), ("C", "green"))),
        ("2+2? A) 3 B) 4", (("A", "3"), ("B", "4"))),
        ("Q\n(A) first\n\n(B) second", (("A", "first"), ("B", "second"))),
        ("Q\nA. one\nB. two\nC. three", (("A", "one"), ("B", "two"), ("C", "three"))),
        ("Write a poem about the sea.", ()),
        ("A) lonely option", ()),
        ("B) starts late\nC) and goes on", ()),
    ],
)
def test_option_forms(text: str, options: tuple[tuple[str, str], ...]) -> None:
    assert Prompt.from_text(text).options == options


def test_from_messages_reads_the_last_user_turn_and_its_text_parts() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Old question\nA) x\nB) y"},
        {"role": "assistant", "content": "A"},
        {"role": "user", "content": [{"type": "text", "text": "New one"}, {"type": "text", "text": "A) p\nB) q"}]},
    ]
    prompt = Prompt.from_messages(messages)
    assert prompt.text == "New one\nA) p\nB) q"
    assert prompt.letters == {"A", "B"}


@pytest.mark.parametrize(
    ("text", "answers", "kind"),
    [
        (FEW_SHOT, [], "choice"),
        ("Answer with the letter of the best option: is the sky blue?", [], "choice"),
        ("Write a function to find the intersection of two arrays.", [], "code"),
        ("Write a function to add two numbers.", ["```python\ndef add(a, b):\n    return a + b\n```"], "code"),
        ("Tell me about this.", ["def f():\n    pass", "def g():\n    return 1"], "code"),
        ("How many apples does Tom have left if he eats 3 of 7?", [], "number"),
        ("Tom has 7 apples and eats 3. What remains?", ["So he has 4.", "The answer is 4"], "number"),
        ("Natalia sold clips to 48 friends.", ["#### 72", "\\boxed{72}"], "number"),
        ("Who wrote Hamlet?", [], "text"),
        ("Who wrote Hamlet?", ["William Shakespeare", "Shakespeare wrote it."], "text"),
    ],
)
def test_detect_kind(text: str, answers: list[str], kind: str) -> None:
    assert detect_kind(Prompt.from_text(text), answers) == kind
