"""Feature extraction shared by every classifier, at training time and at inference time.

Everything here is pure Python over plain data, deterministic, and cheap: the regular
expressions are compiled once at import and each one scans the text a single time.

* :func:`view_of` flattens an OpenAI-style conversation (all roles, multi-part content,
  tool calls, images) into a :class:`ConversationView`: the latest user turn, the rest of
  the conversation as context, and structural counts.
* :func:`signals` turns a view into named, roughly unit-scaled difficulty signals (length,
  code, math, multi-step asks, reasoning verbs, constraints, depth, tools, images).
* :func:`gram_features` gives the distinct word uni- and bigrams of the conversation (the
  latest user turn, and those only in the context), which learned models look up in a
  vocabulary: one C-level set build and one dict lookup per distinct gram.
* :func:`hashed_ngrams` maps text to hashed word uni/bi-gram indices with a stable hash
  (CRC32), so the same text gives the same features in every process (the older, hashed
  weights format).
"""

from __future__ import annotations

import math
import operator
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise, repeat
from typing import Any

from costroute.router._classifier import Messages

__all__ = [
    "GRAM_MAX_WORDS",
    "SIGNAL_NAMES",
    "SURFACE_NAMES",
    "ConversationView",
    "Gram",
    "GramSets",
    "HashedTerms",
    "features",
    "gram_features",
    "hashed_ngrams",
    "signals",
    "surface_features",
    "tokens_of",
    "view_of",
]

#: How much the turns before the latest user turn count, relative to it.
CONTEXT_WEIGHT = 0.5
#: Words of each text that the hashed n-grams read (see :func:`_cap`).
MAX_WORDS = 512
#: Words of each text that :func:`gram_features` reads by default: as good as 512 in
#: cross-fitted APGR (prompts longer than this are rare in the training data and their
#: n-grams repeat), and half the cost on long prompts. The signals always read everything.
GRAM_MAX_WORDS = 256


@dataclass(frozen=True, slots=True)
class ConversationView:
    """A conversation flattened for scoring."""

    latest: str
    """The text of the latest user turn (empty if there is none)."""
    context: str
    """The text of every other turn, system prompt and tool results included, joined."""
    turns: int
    """Number of messages."""
    user_turns: int
    images: int
    """Image (or other non-text) parts anywhere in the conversation."""
    tool_calls: int
    """Tool calls made by the assistant plus tool-result messages."""


def _content_text(content: Any) -> tuple[str, int]:
    """The text of one message's ``content`` and its number of non-text parts."""
    if content is None:
        return "", 0
    if isinstance(content, str):
        return content, 0
    if isinstance(content, Mapping):
        content = [content]
    texts: list[str] = []
    other = 0
    if isinstance(content, Iterable):
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str):
                    texts.append(text)
                elif part.get("type") not in (None, "text"):
                    other += 1
    return "\n".join(texts), other


def _tool_call_text(calls: Any) -> tuple[str, int]:
    if not calls or not isinstance(calls, Iterable) or isinstance(calls, (str, bytes)):
        return "", 0
    texts: list[str] = []
    count = 0
    for call in calls:
        count += 1
        if isinstance(call, Mapping):
            fn = call.get("function")
            if isinstance(fn, Mapping):
                texts.append(f"{fn.get('name', '')}({fn.get('arguments', '')})")
    return "\n".join(texts), count


def view_of(messages: Messages) -> ConversationView:
    """Flatten a conversation. Unknown keys and malformed parts are ignored, never raised on."""
    if isinstance(messages, Mapping):  # a single message passed by mistake
        messages = [messages]
    latest_idx = -1
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            latest_idx = i
            break
    latest = ""
    context: list[str] = []
    images = tool_calls = user_turns = 0
    for i, msg in enumerate(messages):
        role = msg.get("role")
        text, other = _content_text(msg.get("content"))
        images += other
        call_text, calls = _tool_call_text(msg.get("tool_calls"))
        tool_calls += calls
        if role == "tool" or msg.get("function_call"):
            tool_calls += 1
        if role == "user":
            user_turns += 1
        if i == latest_idx:
            latest = text
        elif text:
            context.append(text)
        if call_text:
            context.append(call_text)
    return ConversationView(
        latest=latest,
        context="\n".join(context),
        turns=len(messages),
        user_turns=user_turns,
        images=images,
        tool_calls=tool_calls,
    )


# --- signals -------------------------------------------------------------------------------


def _words(text: str) -> frozenset[bytes]:
    return frozenset(text.encode("ascii").split())


def _phrases(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


# Keyword families, matched as whole words against a set of the text's words (one C-level
# split and set build, no per-word Python loop), plus a few phrases matched with ``in``.
_FAMILIES: dict[str, frozenset[bytes]] = {
    "multistep": _words(
        "prove proof derive derivation then afterwards finally first second third next "
        "also additionally furthermore justify demonstrate each both steps stepwise"
    ),
    "reasoning": _words(
        "analyze analyse analysis compare contrast design optimize optimise debug "
        "evaluate implement refactor architect architecture tradeoff tradeoffs why "
        "explain critique assess investigate diagnose synthesize formulate solve "
        "calculate compute estimate determine infer deduce reason algorithm complexity "
        "asymptotic performance scalable concurrency distributed implications strategy "
        "plan rigorous rigorously efficient efficiently"
    ),
    "constraint": _words(
        "must should without exactly ensure constraint constraints only require "
        "requirements limit within format never always assume assuming given"
    ),
    "math": _words(
        "integral derivative theorem lemma equation equations matrix eigenvalue "
        "probability polynomial prime primes infinitely converge converges sqrt log sin "
        "cos modulo factorial vector inequality variance integer integers sum product "
        "ratio percent solve x y n"
    ),
    "code": _words(
        "python javascript typescript java rust golang cpp sql function class api regex "
        "bug error exception traceback compile runtime code script library endpoint "
        "kubernetes docker return import int str string array list"
    ),
    # tokens that almost only occur in source code itself
    "syntax": _words(
        "def elif lambda const var void printf println console self null nullptr include "
        "namespace struct async await fn impl func usize np df args kwargs params println "
        "cout std endl len range dict bool nil foreach typeof ctx"
    ),
}
_PHRASES: dict[str, tuple[str, ...]] = {
    "multistep": _phrases("step by step|step-by-step|show that|walk through|and then"),
    "constraint": _phrases("at most|at least|no more than|make sure"),
    "reasoning": _phrases("trade-off|edge case|pros and cons"),
}
_SIMPLE_PHRASES = _phrases(
    "what is|what's|who is|who was|when was|when did|where is|define|capital of|translate|"
    "synonym|spell|how many|name a|hello|thanks|thank you|how do you say|meaning of"
)
# Each phrase with its first word: the phrase is searched for only if that word is present.
_PHRASE_KEYS: dict[str, tuple[tuple[bytes, str], ...]] = {
    fam: tuple((p.split()[0].split("-")[0].encode("ascii"), p) for p in phrases) for fam, phrases in _PHRASES.items()
}
# Tokenising works on UTF-8 bytes: bytes.translate is one C pass whatever the alphabet, where
# str.translate falls off its fast path on the first non-ASCII character.
_PUNCT = b"!\"#$%&'()*,./:;<=>?@[\\]^`{|}~"
_BYTE_TABLE = bytes.maketrans(_PUNCT + b"123456789", b" " * len(_PUNCT) + b"0" * 9)
_MATH_CHARS = "∑∫√≤≥±×÷∞∂πθλσ∈∀∃≠≈"
_OPTION_RE = re.compile(rb"(?:^|\n)[ \t]*\(?[a-e][.):][ \t]")
_NUMBERED_RE = re.compile(rb"\n[ \t]*(?:\d{1,2}[.)]|\(?[a-h]\)|[-*]|\xe2\x80\xa2)[ \t]+\S")

#: The signal names, in the order learned models store their weights.
SIGNAL_NAMES: tuple[str, ...] = (
    "length",
    "words_per_sentence",
    "code",
    "math",
    "multistep",
    "questions",
    "reasoning",
    "constraints",
    "simple",
    "depth",
    "context",
    "tools",
    "images",
)


def tokens_of(text: str) -> list[bytes]:
    """Lower-cased UTF-8 words of ``text``, punctuation split off, every digit folded to ``0``."""
    return text.lower().encode("utf-8", "replace").translate(_BYTE_TABLE).split()


def _analyze(text: str) -> tuple[list[bytes], dict[str, float]]:
    """The tokens of one piece of text (as :func:`tokens_of`) and its raw counts."""
    tokens, _, counts = _analyze_words(text)
    return tokens, counts


def _analyze_words(text: str) -> tuple[list[bytes], set[bytes], dict[str, float]]:
    """The tokens of one piece of text (as :func:`tokens_of`), their set, and its raw counts.
    Word families count distinct words present. Counting runs on the UTF-8 bytes: the same
    result for the ASCII marks counted, and a fast memchr-style scan whatever the alphabet."""
    low = text.lower()
    data = low.encode("utf-8", "replace")
    folded = data.translate(_BYTE_TABLE)
    tokens = folded.split()
    words = set(tokens)
    counts = {fam: float(len(vocab & words)) for fam, vocab in _FAMILIES.items()}
    for fam, keyed in _PHRASE_KEYS.items():
        counts[fam] += sum(1.0 for first, p in keyed if first in words and p in low)
    short = len(text) < 400
    counts["simple"] = float(sum(1 for p in _SIMPLE_PHRASES if p in low)) if short else 0.0
    math_marks = data.count(b"=") + data.count(b"^") + data.count(b"\\") + data.count(b"$") // 2
    if not text.isascii():
        math_marks += sum(map(text.count, _MATH_CHARS))
    counts["math_marks"] = float(math_marks)
    counts["fences"] = float(data.count(b"```"))
    counts["code_lines"] = counts["syntax"] + float(data.count(b";\n"))
    counts["numbered"] = float(len(_NUMBERED_RE.findall(data)))
    counts["questions"] = float(data.count(b"?"))
    counts["sentences"] = float(data.count(b". ") + counts["questions"] + data.count(b"\n") + 1)
    counts["chars"] = float(len(text))
    # surface counts for the learned part of the default classifier (see surface_features)
    counts["tokens"] = float(len(tokens))
    counts["distinct"] = float(len(words))
    counts["digits"] = float(folded.count(b"0"))  # every digit was folded to 0
    counts["nonascii"] = float(len(data) - len(low)) if not text.isascii() else 0.0
    counts["newlines"] = float(data.count(b"\n"))
    counts["options"] = float(len(_OPTION_RE.findall(data)))
    counts["dollars"] = float(data.count(b"$"))
    counts["endq"] = 1.0 if low.rstrip().endswith("?") else 0.0
    return tokens, words, counts


def _sat(x: float, half: float) -> float:
    """Saturating map of a count to [0, 1): ``half`` maps to 0.5."""
    return x / (x + half) if x > 0 else 0.0


def signals(view: ConversationView) -> dict[str, float]:
    """Named difficulty signals in [0, 1], the latest user turn weighted above the context."""
    return features(view, 0)[1]


def _signals(view: ConversationView, a: dict[str, float], b: dict[str, float] | None) -> dict[str, float]:
    c = {k: a[k] + CONTEXT_WEIGHT * b[k] for k in a} if b is not None else a
    tokens = c["chars"] / 4.0
    words = a["chars"] / 5.0
    return {
        # log-scaled approximate tokens: 0 at 1 token, 1 at ~4k tokens
        "length": min(1.0, math.log1p(tokens) / math.log1p(4096.0)),
        "words_per_sentence": _sat(words / max(a["sentences"], 1.0), 20.0),
        "code": _sat(c["fences"] * 3.0 + c["code_lines"] + 0.5 * c["code"], 4.0),
        "math": _sat(c["math_marks"] + c["math"], 4.0),
        "multistep": _sat(c["multistep"] + c["numbered"], 3.0),
        "questions": _sat(max(c["questions"] - 1.0, 0.0), 2.0),
        "reasoning": _sat(c["reasoning"], 2.0),
        "constraints": _sat(c["constraint"], 3.0),
        "simple": _sat(a["simple"], 1.0) * (1.0 - min(1.0, a["chars"] / 400.0)),
        "depth": _sat(max(view.turns - 1, 0), 4.0),
        "context": min(1.0, math.log1p(len(view.context) / 4.0) / math.log1p(8192.0)),
        "tools": _sat(view.tool_calls, 1.0),
        "images": _sat(view.images, 1.0),
    }


#: The names of :func:`surface_features`, in order: the signals, then plain surface measures.
SURFACE_NAMES: tuple[str, ...] = (
    *SIGNAL_NAMES,
    "log_chars",
    "log_words",
    "log_lines",
    "digit_share",
    "nonascii_share",
    "options",
    "distinct_share",
    "word_length",
    "ends_with_question",
    "dollars",
    "lines_per_word",
)


def _surface(sig: dict[str, float], a: dict[str, float]) -> list[float]:
    chars = max(a["chars"], 1.0)
    tokens = max(a["tokens"], 1.0)
    return [
        *(sig[k] for k in SIGNAL_NAMES),
        math.log1p(a["chars"]),
        math.log1p(a["tokens"]),
        math.log1p(a["newlines"]),
        a["digits"] / chars,
        a["nonascii"] / chars,
        min(a["options"], 6.0) / 6.0,
        a["distinct"] / tokens,
        a["chars"] / tokens / 10.0,
        a["endq"],
        min(a["dollars"], 10.0) / 10.0,
        a["newlines"] / tokens,
    ]


def surface_features(view: ConversationView) -> tuple[list[float], dict[str, float], float]:
    """Cheap surface measures of the latest user turn, in :data:`SURFACE_NAMES` order (the
    :func:`signals` first, which also read the context), the signals by name, and the length of
    the whole conversation in characters. One tokenisation of each text, shared with the signals."""
    a = _analyze_words(view.latest)[2]
    b = _analyze_words(view.context)[2] if view.context else None
    sig = _signals(view, a, b)
    return _surface(sig, a), sig, a["chars"] + (b["chars"] if b is not None else 0.0)


# --- vocabulary n-grams --------------------------------------------------------------------

#: A word unigram (its UTF-8 bytes) or bigram (the two words joined by a space), as
#: vocabularies key them. Bytes keys, unlike tuples, are not tracked by the garbage
#: collector, which keeps building a 150k-gram vocabulary at load time fast.
Gram = bytes

_SPACE = b" "


@dataclass(frozen=True, slots=True)
class GramSets:
    """The distinct word uni- and bigrams of a conversation. The feature vector has 1 for each
    gram of the latest user turn, :data:`CONTEXT_WEIGHT` for each gram found only in the
    context, 0 elsewhere, divided by :attr:`norm` (its L2 norm)."""

    latest: set[Gram]
    context: set[Gram]
    """Grams of the context that are not in :attr:`latest`."""

    @property
    def norm(self) -> float:
        return math.sqrt(len(self.latest) + CONTEXT_WEIGHT * CONTEXT_WEIGHT * len(self.context))


def _grams(tokens: list[bytes], words: set[bytes], max_words: int) -> set[Gram]:
    capped = _cap(tokens, max_words)
    # ``words`` is this call's own set of every token: reuse it when nothing was cut
    grams = words if capped is tokens else set(capped)
    grams.update(map(_SPACE.join, pairwise(capped)))
    return grams


def gram_features(view: ConversationView, *, max_words: int = GRAM_MAX_WORDS) -> tuple[GramSets, dict[str, float]]:
    """The :class:`GramSets` (of at most ``max_words`` tokens of each text, see :func:`_cap`)
    and the :func:`signals` of a view, sharing one tokenisation of each text."""
    tokens, words, a = _analyze_words(view.latest)
    latest = _grams(tokens, words, max_words)
    b = None
    context: set[Gram] = set()
    if view.context:
        ctokens, cwords, b = _analyze_words(view.context)
        context = _grams(ctokens, cwords, max_words)
        context -= latest
    return GramSets(latest, context), _signals(view, a, b)


# --- hashed n-grams ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HashedTerms:
    """Hashed n-gram terms: ``indices[k]`` carries ``values[k]``; an index may repeat (a hash
    collision), in which case the values add up. The feature vector is ``values / norm``."""

    indices: list[int]
    values: list[float]
    norm: float

    def as_dict(self) -> dict[int, float]:
        """The normalised feature vector as ``{index: value}``."""
        out: dict[int, float] = {}
        if self.norm > 0:
            for i, v in zip(self.indices, self.values, strict=True):
                out[i] = out.get(i, 0.0) + v / self.norm
        return out


def features(
    view: ConversationView, dim: int, *, bigrams: bool = True, max_words: int = MAX_WORDS
) -> tuple[HashedTerms, dict[str, float]]:
    """:func:`hashed_ngrams` terms (none when ``dim`` is 0) and :func:`signals` of a view,
    sharing one tokenisation of each text. ``dim`` must be 0 or a power of two."""
    if dim & (dim - 1):
        raise ValueError(f"dim must be a power of two, got {dim}")
    latest, a = _analyze(view.latest)
    context: list[bytes] = []
    b = None
    if view.context:
        context, b = _analyze(view.context)
    indices: list[int] = []
    values: list[float] = []
    if dim:
        for toks, weight in ((latest, 1.0), (context, CONTEXT_WEIGHT)):
            if toks:
                _hash_into(indices, values, _cap(toks, max_words), weight, dim, bigrams)
    norm = math.sqrt(sum(map(operator.mul, values, values)))
    return HashedTerms(indices, values, norm), _signals(view, a, b)


def _cap(tokens: list[bytes], max_words: int) -> list[bytes]:
    """At most ``max_words`` tokens: the first two thirds and the last third of the budget,
    bounding the cost on huge inputs while still reading the ask at the end."""
    if len(tokens) <= max_words:
        return tokens
    head = (2 * max_words) // 3
    return tokens[:head] + tokens[len(tokens) - (max_words - head) :]


def _hash_into(
    indices: list[int],
    values: list[float],
    words: list[bytes],
    weight: float,
    dim: int,
    bigrams: bool,
) -> None:
    """Append each distinct unigram's (and bigram's) bucket and ``weight * count``.

    Words are hashed with CRC32 and a bigram ``(a, b)`` as ``(crc(a) << 1) ^ crc(b)``: stable
    across processes and platforms, so training and inference agree. Every step is a C-level
    ``map``/``Counter`` pass, as this is the hot path of the learned classifier."""
    distinct = set(words)
    codes = dict(zip(distinct, map(zlib.crc32, distinct), strict=True))
    seq = list(map(codes.__getitem__, words))
    grams = Counter(seq)
    if bigrams and len(seq) > 1:
        grams.update(map(operator.xor, map(operator.lshift, seq, repeat(1)), seq[1:]))
    indices.extend(map(operator.and_, grams.keys(), repeat(dim - 1)))
    if weight == 1.0:
        values.extend(map(float, grams.values()))
    else:
        values.extend(map(operator.mul, grams.values(), repeat(weight)))


def hashed_ngrams(view: ConversationView, dim: int, *, bigrams: bool = True) -> dict[int, float]:
    """Hashed word unigram and bigram features of the conversation as ``{index: value}``:
    counts, the latest user turn at weight 1 and the context at
    :data:`CONTEXT_WEIGHT`, L2-normalised."""
    return features(view, dim, bigrams=bigrams)[0].as_dict()
