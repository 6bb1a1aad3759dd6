"""Math answers reduced to their final number, as an exact fraction.

The final number is, in this order: the last ``\\boxed{...}``, a ``#### n`` line (GSM8K style),
the number after the last "answer is" / "answer:", else the last number in the text.
``1,234``, ``-3.50``, ``$12``, ``45%``, ``3/4``, ``\\frac{3}{4}`` and ``2.5e3`` are understood;
``0.5`` and ``1/2`` are the same number.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["final_number", "parse_number"]

_NUMBER = (
    r"-?\s?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?:\s?/\s?\d+(?:\.\d+)?)?\s?%?"
    r"|-?\s?\\d?frac\{[^{}]+\}\{[^{}]+\}"
    r"|-?\.\d+"
)
_ANY_NUMBER = re.compile(_NUMBER)
_HASHES = re.compile(r"####\s*(" + _NUMBER + r")")
_SAID = re.compile(r"answer\s*(?:is|:|=)\s*(?:approximately\s*|about\s*)?(" + _NUMBER + r")", re.IGNORECASE)
_FRAC = re.compile(r"\\d?frac\{([^{}]+)\}\{([^{}]+)\}")
_BOXED = "\\boxed{"


def _boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (braces nested), or ``None``."""
    start = text.rfind(_BOXED)
    if start < 0:
        return None
    depth, i = 1, start + len(_BOXED)
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j]
    return None


def parse_number(text: str) -> Fraction | None:
    """One number written in any of the forms above, or ``None``."""
    s = text.strip().replace(" ", "").replace("$", "").replace("\\!", "").replace("\\,", "")
    s = s.replace("−", "-").rstrip(".")
    negative = s.startswith("-")
    s = s.lstrip("-").rstrip("%")
    frac = _FRAC.fullmatch(s)
    try:
        if frac:
            value = Fraction(frac.group(1)) / Fraction(frac.group(2))
        elif "/" in s:
            num, den = s.split("/", 1)
            value = Fraction(num.replace(",", "")) / Fraction(den)
        else:
            value = Fraction(s.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None
    return -value if negative else value


def final_number(answer: str) -> Fraction | None:
    """The final number of a math answer, or ``None`` when it gives none."""
    boxed = _boxed(answer)
    if boxed is not None:
        numbers = _ANY_NUMBER.findall(boxed)
        whole = parse_number(boxed)
        if whole is not None:
            return whole
        return parse_number(numbers[-1]) if numbers else None
    for pattern in (_HASHES, _SAID):
        found = pattern.findall(answer)
        if found:
            value = parse_number(found[-1])
            if value is not None:
                return value
    numbers = _ANY_NUMBER.findall(answer)
    for candidate in reversed(numbers):
        value = parse_number(candidate)
        if value is not None:
            return value
    return None
