"""Answers reduced to something comparable, per task kind, and how alike two of them are.

    >>> from costroute.cascade import Prompt, normalize, similarity
    >>> p = Prompt.from_text("Which is a fruit?\\nA) carrot\\nB) apple")
    >>> normalize("choice", "The answer is (B).", p).key, normalize("choice", "apple", p).key
    ('B', 'B')
    >>> similarity(normalize("number", "so x = 0.5", p), normalize("number", "\\\\boxed{1/2}", p))
    1.0

``similarity`` is 1.0 for answers that normalize to the same key. Multiple choice and numbers are
equal or not (0.0); code and free text that differ score the Jaccard index of their n-grams
(token 4-grams for code, character 3-grams for text).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from costroute.cascade._choice import choice_letter
from costroute.cascade._code import canonical_code
from costroute.cascade._numbers import final_number
from costroute.cascade._prompt import Kind, Prompt

__all__ = ["NORMALIZERS", "Normalized", "normalize", "similarity", "text_grams"]


@dataclass(frozen=True, slots=True)
class Normalized:
    """One answer in comparable form. ``key`` is equal for answers taken to be the same;
    ``grams`` are compared when keys differ (empty for kinds compared exactly)."""

    kind: Kind
    key: str
    grams: frozenset[str] = frozenset()


def _choice(answer: str, prompt: Prompt) -> Normalized | None:
    letter = choice_letter(answer, prompt)
    return None if letter is None else Normalized("choice", letter)


def _number(answer: str, prompt: Prompt) -> Normalized | None:
    value = final_number(answer)
    return None if value is None else Normalized("number", f"{value.numerator}/{value.denominator}")


def _code(answer: str, prompt: Prompt) -> Normalized | None:
    code = canonical_code(answer)
    return None if code is None else Normalized("code", code.key, code.grams)


_PUNCT = re.compile(r"[^\w\s]+")


def text_grams(text: str, n: int = 3) -> frozenset[str]:
    """Character ``n``-grams of ``text`` (already normalized), padded with a space each side."""
    padded = f" {text} "
    if len(padded) <= n:
        return frozenset([padded])
    return frozenset(padded[i:i + n] for i in range(len(padded) - n + 1))


def _text(answer: str, prompt: Prompt) -> Normalized | None:
    plain = " ".join(_PUNCT.sub(" ", unicodedata.normalize("NFKC", answer).casefold()).split())
    return Normalized("text", plain, text_grams(plain)) if plain else None


#: The normalizer of each task kind: ``(answer, prompt) -> Normalized | None``.
NORMALIZERS: Mapping[Kind, Callable[[str, Prompt], Normalized | None]] = {
    "choice": _choice,
    "number": _number,
    "code": _code,
    "text": _text,
}


def normalize(kind: Kind, answer: str, prompt: Prompt) -> Normalized | None:
    """``answer`` in comparable form for a task of ``kind``, or ``None`` when it gives no answer
    of that kind (no option named, no number, no code, empty text)."""
    return NORMALIZERS[kind](answer, prompt)


def similarity(a: Normalized | None, b: Normalized | None) -> float:
    """How alike two normalized answers are, in [0, 1]; 0.0 when either gave no answer."""
    if a is None or b is None or a.kind != b.kind:
        return 0.0
    if a.key == b.key:
        return 1.0
    if not a.grams or not b.grams:
        return 0.0
    shared = len(a.grams & b.grams)
    return shared / (len(a.grams) + len(b.grams) - shared)
