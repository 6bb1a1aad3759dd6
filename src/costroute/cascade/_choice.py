"""Multiple choice: an answer reduced to the option letter it picks, or ``None``.

Understands ``B``, ``(B)``, ``B)``, ``B.``, ``Answer: C``, ``The answer is (D)``, ``option A``,
and answers that give the option's text instead of its letter (``Dennis`` for ``B) Dennis``),
including a cut-off prefix of it. An answer that names no option, or several, is ``None``:
it agrees with nothing.
"""

from __future__ import annotations

import re
import unicodedata

from costroute.cascade._prompt import Prompt

__all__ = ["choice_letter"]

_BARE = re.compile(r"[\(\[]?([A-Ha-h])[\)\].:,]?")
_SAID = re.compile(
    r"(?i:\b(?:answer|option|choice)\b(?:\s+(?:is|would be|should be))?\s*[:\-]?\s*)"
    r"(?:\*\*)?[\(\[]?([A-H])(?![A-Za-z])"
)
_LEADING = re.compile(r"[\(\[]?([A-H])(?:[\)\].:]|\s+\()(?:\s|$)")
_PAREN = re.compile(r"\(([A-H])\)")
_WORDS = re.compile(r"[^\w\s]+")
_MIN_PREFIX = 3


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_WORDS.sub(" ", text).split())


def choice_letter(answer: str, prompt: Prompt) -> str | None:
    """The option letter ``answer`` picks among ``prompt``'s options (``A``-``H`` when the prompt
    lists none), or ``None``."""
    letters = prompt.letters or frozenset("ABCDEFGH")
    text = answer.strip().replace("**", "").strip("\"'` \n")
    if not text:
        return None
    bare = _BARE.fullmatch(text)
    if bare:
        letter = bare.group(1).upper()
        return letter if letter in letters else None
    for pattern in (_SAID, _LEADING):
        match = pattern.search(text) if pattern is _SAID else pattern.match(text)
        if match and match.group(1) in letters:
            return match.group(1)
    by_text = _by_option_text(text, prompt)
    if by_text is not None:
        return by_text
    found = {m.group(1) for m in _PAREN.finditer(text)} & letters
    return found.pop() if len(found) == 1 else None


def _by_option_text(text: str, prompt: Prompt) -> str | None:
    """The one option whose text the answer gives (exactly, as a cut-off prefix, or inside a
    sentence); ``None`` when none or several match."""
    said = _plain(text)
    if not said or not prompt.options:
        return None
    options = [(letter, _plain(option)) for letter, option in prompt.options]
    exact = [letter for letter, option in options if option == said]
    if len(exact) == 1:
        return exact[0]
    if sum(f" {said} " in f" {option} " for _, option in options) > 1:
        return None  # words several options share
    for test in (
        lambda o: len(said) >= _MIN_PREFIX and o.startswith(said),
        lambda o: bool(o) and said.startswith(o + " "),
        lambda o: bool(o) and f" {o} " in f" {said} ",
    ):
        hits = {letter for letter, option in options if option and test(option)}
        if len(hits) == 1:
            return hits.pop()
        if hits:
            return None
    # "B wet palms": a letter, then that option's text
    head, _, rest = said.partition(" ")
    letter = head.upper()
    if len(head) == 1 and letter in prompt.letters and rest:
        option = dict(options)[letter]
        if option.startswith(rest) or rest.startswith(option):
            return letter
    return None
