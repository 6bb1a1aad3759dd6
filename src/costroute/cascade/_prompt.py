"""What a cascade reads from the request: the question's text, its answer options, its task kind.

Pure functions over plain data. The *kind* of a task decides how answers are compared:

* ``choice``: multiple choice; answers reduce to an option letter;
* ``number``: math; answers reduce to their final number;
* ``code``: answers reduce to a normalized program;
* ``text``: anything else; answers are compared by similarity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = ["KINDS", "Kind", "Prompt", "content_text", "detect_kind", "parse_options"]

Kind = Literal["choice", "number", "code", "text"]
KINDS: tuple[Kind, ...] = get_args(Kind)

# "A) text", "(B) text", "C. text", "D: text" at the start of a line
_OPTION_LINE = re.compile(r"[\(\[]?([A-Ha-h])[\)\].:][ \t]+(\S.*)")
_OPTION_START = frozenset("([ABCDEFGHabcdefgh")
# "(A) x (B) y" within one line
_INLINE_OPTION = re.compile(r"(?:(?<=\s)|^)\(?([A-H])\)\s*(.+?)(?=\s+\(?[A-H]\)\s|\s*$)")
_CODE_PROMPT = re.compile(
    r"\b(write|implement|create|complete|fix|define|code)\b[^.\n]{0,60}?"
    r"\b(function|program|script|class|method|code|query|snippet)\b"
    r"|```|\bdef \w+\(|\bpython\b|\bjavascript\b|\bsql\b",
    re.IGNORECASE,
)
_MATH_PROMPT = re.compile(
    r"\\boxed|\\frac|\bhow (many|much)\b|\bcalculate\b|\bcompute\b|\bsolve\b|\bevaluate\b"
    r"|\bwhat is \$?-?\d|\bfind the (value|number|sum|product|area|remainder)\b|\d\s*[-+*/^×÷]\s*\d",
    re.IGNORECASE,
)
_CHOICE_PROMPT = re.compile(
    r"\b(answer with|reply with|print only|choose|select|pick)\b[^.\n]{0,40}\b(letter|option|choice)\b",
    re.IGNORECASE,
)
_CODE_ANSWER = re.compile(r"```|\[PYTHON\]|^\s*(def|class|function|import|from \S+ import)\b", re.MULTILINE)
_FINAL_NUMBER = re.compile(r"\\boxed\{|####|answer is\s*:?\s*\$?-?\d|-?\d[\d,]*(\.\d+)?\s*\.?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Prompt:
    """The request as the cascade reads it: ``text`` is the last user turn; ``options`` are the
    (letter, text) pairs of its last multiple-choice block, if it has one."""

    text: str
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_messages(cls, messages: Sequence[Mapping[str, Any]]) -> Prompt:
        """Read the last user message (all string parts of it)."""
        text = ""
        for message in reversed(messages):
            if message.get("role") == "user":
                text = content_text(message.get("content"))
                break
        return cls(text=text, options=parse_options(text))

    @classmethod
    def from_text(cls, text: str) -> Prompt:
        return cls(text=text, options=parse_options(text))

    @property
    def letters(self) -> frozenset[str]:
        return frozenset(letter for letter, _ in self.options)


def content_text(content: Any) -> str:
    """A message's text: the string, or its text parts joined."""
    if isinstance(content, list):
        return "\n".join(str(p.get("text") or "") for p in content if isinstance(p, Mapping))
    return "" if content is None else str(content)


def parse_options(text: str) -> tuple[tuple[str, str], ...]:
    """The last run of consecutive options (``A``, ``B``, ... in order) in ``text``: few-shot
    prompts hold many questions, and the one to answer comes last."""
    blocks: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        match = _OPTION_LINE.fullmatch(line) if line[0] in _OPTION_START else None
        if match is None:
            if len(current) >= 2:
                blocks.append(current)
            current = []
            continue
        letter = match.group(1).upper()
        if current and letter == chr(ord(current[-1][0]) + 1):
            current.append((letter, match.group(2).strip()))
        else:
            if len(current) >= 2:
                blocks.append(current)
            current = [(letter, match.group(2).strip())] if letter == "A" else []
    if len(current) >= 2:
        blocks.append(current)
    if blocks:
        return tuple(blocks[-1])
    lines = [line for line in text.splitlines() if line.count(")") >= 2]
    for line in reversed(lines):
        inline = [(m.group(1), m.group(2).strip()) for m in _INLINE_OPTION.finditer(line)]
        if len(inline) >= 2 and [x for x, _ in inline] == [chr(65 + i) for i in range(len(inline))]:
            return tuple(inline)
    return ()


def detect_kind(prompt: Prompt, answers: Sequence[str] = ()) -> Kind:
    """The task kind of ``prompt``, using ``answers`` (any models' answers to it) when given.

    Multiple choice when the prompt has options; code when it asks for code or most answers
    hold code; a number when it is a math question or most answers end on a final number;
    free text otherwise.
    """
    if len(prompt.options) >= 2 or _CHOICE_PROMPT.search(prompt.text):
        return "choice"
    answers = [a for a in answers if a.strip()]
    asks_code = bool(_CODE_PROMPT.search(prompt.text))
    if not answers:
        if asks_code:
            return "code"
        return "number" if _MATH_PROMPT.search(prompt.text) else "text"
    half = (len(answers) + 1) // 2
    coded = sum(bool(_CODE_ANSWER.search(a)) for a in answers)
    if coded >= half or (asks_code and coded):
        return "code"
    numeric = sum(bool(_FINAL_NUMBER.search(a[-200:])) for a in answers)
    if numeric >= half and (numeric == len(answers) or _MATH_PROMPT.search(prompt.text)):
        return "number"
    return "text"
