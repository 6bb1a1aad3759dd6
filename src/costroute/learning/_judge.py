"""The pure parts of the pairwise judge: the prompt, the verdict parser, and the label.

A sample of live requests is also answered by a *reference* model (shadow sampling); a judge
model then compares the routed answer with the reference answer. An LLM judge favours whichever
answer it reads first (or second) more often than chance, so every comparison is made twice
with the answers' positions swapped, and the label only credits the routed answer for what it
wins (or ties) in *both* orders:

* :func:`pairwise_prompts` builds the two judge conversations (routed answer as A, then as B);
* :func:`parse_verdict` reads a judge's reply (``[[A]]``, ``[[B]]`` or ``[[C]]`` for a tie);
* :func:`swapped_label` turns the two verdicts into a label in [0, 1]: how acceptable the routed
  answer is against the reference (1 = at least as good in both orders, 0 = worse in both,
  0.5 = the two orders disagree, which is the order bias the swap cancels);
* :func:`judge_scores` gives the scores to record for the two answers: the label for the routed
  model, 1.0 for the reference (the yardstick), so their difference is how much the prompt needed
  the reference model.

No I/O: the request loop makes the calls, records the labels with source ``judge`` (an
application's own ``client.feedback`` overrides them, see :func:`costroute.learning.merge_labels`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "DEFAULT_RUBRIC",
    "JudgeRubric",
    "Verdict",
    "judge_scores",
    "pairwise_prompts",
    "parse_verdict",
    "question_text",
    "swapped_label",
]

Verdict = Literal["A", "B", "tie"]

#: What the judge is asked to weigh, unless a policy configures its own rubric.
DEFAULT_RUBRIC = (
    "Judge which answer serves the user better. Weigh, in this order: correctness (a wrong final "
    "answer loses to a right one whatever its style), whether it does everything the user asked, "
    "and then clarity and concision. Do not prefer an answer for being longer, for its position, "
    "or for its tone. If both are equally good, or equally wrong, it is a tie."
)

_SYSTEM = (
    "You are an impartial judge comparing two AI assistants' answers to the same user request.\n"
    "{rubric}\n"
    "Think briefly, then end your reply with exactly one verdict on its own line: "
    "[[A]] if assistant A's answer is better, [[B]] if assistant B's answer is better, [[C]] for a tie."
)
_USER = (
    "[User request]\n{question}\n[End of user request]\n\n"
    "[Assistant A's answer]\n{a}\n[End of assistant A's answer]\n\n"
    "[Assistant B's answer]\n{b}\n[End of assistant B's answer]"
)

_BRACKETED = re.compile(r"\[\[\s*(A|B|C|TIE)\s*\]\]", re.IGNORECASE)
_PLAIN = re.compile(
    r"\b(?:final verdict|verdict|winner)\s*(?:is|:)\s*\**\s*(?:assistant\s+)?\(?\b(A|B|C|tie)\b\)?",
    re.IGNORECASE,
)
_TIE_WORDS = re.compile(r"\b(?:it'?s a tie|tie|equally good|equally bad|equally wrong)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class JudgeRubric:
    """What the judge weighs (``text``, inserted into its system prompt), and a name for it
    recorded with the labels so that labels from different rubrics can be told apart."""

    text: str = DEFAULT_RUBRIC
    name: str = "default"

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("a judge rubric must not be empty")


def _conversation(question: str, a: str, b: str, rubric: JudgeRubric) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": _SYSTEM.format(rubric=rubric.text.strip())},
        {"role": "user", "content": _USER.format(question=question.strip(), a=a.strip(), b=b.strip())},
    ]


def question_text(messages: str | list[Mapping[str, Any]] | tuple[Mapping[str, Any], ...]) -> str:
    """The request as the judge reads it: a plain string as is, a conversation as ``role: text``
    lines (text parts only)."""
    if isinstance(messages, str):
        return messages
    lines: list[str] = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = "\n".join(str(p["text"]) for p in content if isinstance(p, Mapping) and p.get("text"))
        if content:
            lines.append(f"{m.get('role', 'user')}: {content}")
    return "\n".join(lines)


def pairwise_prompts(
    question: str | list[Mapping[str, Any]] | tuple[Mapping[str, Any], ...],
    routed: str,
    reference: str,
    *,
    rubric: JudgeRubric | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The two judge conversations: the routed answer as A (reference as B), then swapped.
    ``question`` is the user's request, as text or as the conversation that was sent."""
    rubric = rubric or JudgeRubric()
    text = question_text(question)
    return _conversation(text, routed, reference, rubric), _conversation(text, reference, routed, rubric)


def parse_verdict(reply: str | None) -> Verdict | None:
    """The verdict in a judge's reply: the last ``[[A]]``/``[[B]]``/``[[C]]`` (``[[tie]]`` too);
    failing that a ``Verdict: A``-style phrase or the word tie; ``None`` when there is none, or
    when the reply names both A and B as its final verdict (an unusable reply)."""
    if not reply:
        return None
    marks = _BRACKETED.findall(reply)
    if marks:
        return _verdict(marks[-1])
    plain = _PLAIN.findall(reply)
    if plain:
        return _verdict(plain[-1])
    if _TIE_WORDS.search(reply):
        return "tie"
    return None


def _verdict(mark: str) -> Verdict:
    mark = mark.upper()
    if mark in ("C", "TIE"):
        return "tie"
    return "A" if mark == "A" else "B"


def swapped_label(routed_first: Verdict | None, routed_second: Verdict | None) -> float | None:
    """The label of the routed answer from the two position-swapped verdicts: ``routed_first``
    is the verdict with the routed answer as A, ``routed_second`` with it as B.

    Each order credits the routed answer 1 when it wins or ties, 0 when it loses; the label is
    the mean of the two (so 0.5 means the verdict followed the position, not the answers).
    ``None`` when either verdict is missing: one order alone would keep the bias the swap is for.
    """
    if routed_first is None or routed_second is None:
        return None
    first = 0.0 if routed_first == "B" else 1.0
    second = 0.0 if routed_second == "A" else 1.0
    return (first + second) / 2.0


def judge_scores(routed_model: str, reference_model: str, label: float) -> dict[str, float]:
    """Scores to record for one judged prompt: ``label`` for the routed model and 1.0 for the
    reference, the yardstick it was judged against (their gap, ``1 - label``, is what a
    difficulty classifier learns). When the routed model *is* the reference, only its 1.0."""
    if not 0.0 <= label <= 1.0:
        raise ValueError(f"a label is in [0, 1], got {label!r}")
    if routed_model == reference_model:
        return {reference_model: 1.0}
    return {routed_model: float(label), reference_model: 1.0}
