"""Math answers reduced to their final number."""

from __future__ import annotations

from fractions import Fraction

import pytest

from costroute.cascade import Prompt, final_number, normalize, parse_number, similarity


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("So the total is 42.", Fraction(42)),
        ("First 3 apples, then 4 more: \\boxed{7}. Check: 7 - 0 = 7", Fraction(7)),
        ("\\boxed{\\frac{3}{4}}", Fraction(3, 4)),
        ("The area is \\boxed{2\\sqrt{2}}", Fraction(2)),  # the last number inside the box
        ("She pays $1,234.50 in total", Fraction("1234.5")),
        ("Reasoning...\n#### 72\nanything after", Fraction(72)),
        ("The answer is -3, not 5 as 5 - 2 suggests", Fraction(-3)),
        ("answer: 12%", Fraction(12)),
        ("x = 1/3", Fraction(1, 3)),
        ("about 2.5e3 people", Fraction(2500)),
        ("values 1, 2, 3", Fraction(3)),
        ("no numbers here", None),
    ],
)
def test_final_number(answer: str, value: Fraction | None) -> None:
    assert final_number(answer) == value


def test_parse_number_refuses_nonsense_and_division_by_zero() -> None:
    assert parse_number("3/0") is None
    assert parse_number("abc") is None
    assert parse_number("−4") == -4


def test_equal_values_in_different_forms_agree() -> None:
    p = Prompt.from_text("Compute half of one.")
    half = [normalize("number", a, p) for a in ("0.5", "1/2", "\\boxed{\\dfrac{1}{2}}", "It is .5")]
    assert all(similarity(half[0], h) == 1.0 for h in half)
    assert similarity(half[0], normalize("number", "0.51", p)) == 0.0
