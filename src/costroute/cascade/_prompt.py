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
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

__all__ = [
    "KINDS",
    "AnswerTraits",
    "Kind",
    "Prompt",
    "PromptHints",
    "answer_traits",
    "content_text",
    "detect_kind",
    "kind_from",
    "parse_options",
    "prompt_hints",
]

Kind = Literal["choice", "number", "code", "text"]
KINDS: tuple[Kind, ...] = get_args(Kind)

# "A) text", "(B) text", "C. text", "D: text" at the start of a line
_OPTION_LINE = re.compile(r"[\(\[]?([A-Ha-h])[\)\].:][ \t]+(\S.*)")
_OPTION_START = frozenset("([ABCDEFGHabcdefgh")
# "(A) x (B) y" within one line
_INLINE_OPTION = re.compile(r"(?:(?<=\s)|^)\(?([A-H])\)\s*(.+?)(?=\s+\(?[A-H]\)\s|\s*$)")
_WORD = re.compile(r"[a-z]+")
_SENTENCE = re.compile(r"[.?!\n]+")
_CODE_VERBS = frozenset(["write", "implement", "create", "complete", "fix", "define", "code"])
_CODE_NOUNS = frozenset(["function", "program", "script", "class", "method", "code", "query", "snippet"])
_CODE_WORDS = frozenset(["python", "javascript", "typescript", "sql", "java", "rust", "golang", "kotlin"])
_MATH_WORDS = frozenset(["calculate", "compute", "solve", "evaluate", "simplify"])
_MATH_PHRASES = ("how many", "how much", "\\boxed", "\\frac", "find the value", "find the number",
                 "find the sum", "find the product", "find the area", "find the remainder")
_ARITHMETIC = re.compile(r"\d ?[-+*/^×÷] ?\d|what is \$?-?\d")
_CHOICE_WORDS = frozenset(["letter", "option", "choice"])
_CHOICE_VERBS = frozenset(["answer", "reply", "print", "choose", "select", "pick"])
_CODE_ANSWER = re.compile(r"```|\[PYTHON\]|^\s*(def|class|function|import|from \S+ import)\b", re.MULTILINE)
_FINAL_NUMBER = re.compile(r"\\boxed\{|####|answer is\s*:?\s*\$?-?\d|-?\d[\d,]*(\.\d+)?\s*\.?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PromptHints:
    """What the prompt alone says about its kind."""

    choice: bool
    asks_code: bool
    mathy: bool


@dataclass(frozen=True, slots=True)
class Prompt:
    """The request as the cascade reads it: ``text`` is the last user turn; ``options`` are the
    (letter, text) pairs of its last multiple-choice block, if it has one."""

    text: str
    options: tuple[tuple[str, str], ...] = ()
    hints: PromptHints | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_messages(cls, messages: Sequence[Mapping[str, Any]]) -> Prompt:
        """Read the last user message (all string parts of it)."""
        text = ""
        for message in reversed(messages):
            if message.get("role") == "user":
                text = content_text(message.get("content"))
                break
        return cls.from_text(text)

    @classmethod
    def from_text(cls, text: str) -> Prompt:
        options = parse_options(text)
        return cls(text=text, options=options, hints=_hints(text, options))

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


@dataclass(frozen=True, slots=True)
class AnswerTraits:
    """What one (non-empty) answer says about the kind: it holds code; it ends on a number."""

    code: bool
    numeric: bool


def prompt_hints(prompt: Prompt) -> PromptHints:
    """The prompt's hints: options or "answer with the letter" (choice), a request for code, a
    math question. Word look-ups on the lower-cased text, so long prompts stay cheap."""
    if prompt.hints is not None:
        return prompt.hints
    return _hints(prompt.text, prompt.options)


def _hints(text: str, options: tuple[tuple[str, str], ...]) -> PromptHints:
    if len(options) >= 2:
        return PromptHints(choice=True, asks_code=False, mathy=False)
    lower = text.lower()
    words = set(_WORD.findall(lower))

    def together(first: frozenset[str], second: frozenset[str]) -> bool:
        """Words of both sets in one sentence."""
        if not (words & first and words & second):
            return False
        return any((w := set(_WORD.findall(s))) & first and w & second for s in _SENTENCE.split(lower))

    if together(_CHOICE_VERBS, _CHOICE_WORDS):
        return PromptHints(choice=True, asks_code=False, mathy=False)
    asks_code = "```" in text or "def " in text or bool(words & _CODE_WORDS) or together(_CODE_VERBS, _CODE_NOUNS)
    mathy = bool(words & _MATH_WORDS) or any(p in lower for p in _MATH_PHRASES) or bool(_ARITHMETIC.search(lower))
    return PromptHints(choice=False, asks_code=asks_code, mathy=mathy)


def answer_traits(answer: str) -> AnswerTraits | None:
    """``None`` for an empty answer (it says nothing)."""
    if not answer.strip():
        return None
    return AnswerTraits(code=bool(_CODE_ANSWER.search(answer)), numeric=bool(_FINAL_NUMBER.search(answer[-200:])))


def kind_from(hints: PromptHints, traits: Sequence[AnswerTraits]) -> Kind:
    """The kind from the prompt's hints and the traits of the answers seen (see :func:`detect_kind`)."""
    if hints.choice:
        return "choice"
    if not traits:
        return "code" if hints.asks_code else ("number" if hints.mathy else "text")
    half = (len(traits) + 1) // 2
    coded = sum(t.code for t in traits)
    if coded >= half or (hints.asks_code and coded):
        return "code"
    numeric = sum(t.numeric for t in traits)
    if numeric >= half and (numeric == len(traits) or hints.mathy):
        return "number"
    return "text"


def detect_kind(prompt: Prompt, answers: Sequence[str] = ()) -> Kind:
    """The task kind of ``prompt``, using ``answers`` (any models' answers to it) when given.

    Multiple choice when the prompt has options; code when it asks for code or most answers
    hold code; a number when it is a math question or most answers end on a final number;
    free text otherwise.
    """
    traits = [t for t in map(answer_traits, answers) if t is not None]
    return kind_from(prompt_hints(prompt), traits)
