"""Offline token counting with tiktoken, from the encoding files litellm ships.

tiktoken would download its encodings on first use; this module never does. It reads the
``cl100k_base`` / ``o200k_base`` files bundled inside the installed litellm package (found without
importing litellm) and, when they are missing, falls back to a conservative estimate of one token
per three characters, flagged as such.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

__all__ = ["MessageTokenCache", "TokenCounter", "count_message_tokens", "default_counter", "encoding_for",
           "image_parts"]

# tiktoken caches encodings under the SHA-1 of their download URL; litellm ships them so named.
_FILES = {
    "cl100k_base": "9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
    "o200k_base": "fb374d419588a4632f3f557e76b4b70aebbca790",
}
_PATTERNS = {
    "cl100k_base": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
        r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
    ),
    "o200k_base": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
}
_SPECIAL = {
    "cl100k_base": {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                    "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276},
    "o200k_base": {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
}
#: Tokens an image costs before the model is known (OpenAI's high-detail 512px tile + base).
IMAGE_TOKENS = 765
_PER_MESSAGE = 3
_PER_REPLY = 3


class TokenCounter(Protocol):
    def count(self, text: str) -> int: ...


class _Estimate:
    """One token per three characters: an overestimate for English, so budgets stay safe."""

    exact = False
    name = "estimate"

    def count(self, text: str) -> int:
        return (len(text) + 2) // 3


class _Tiktoken:
    exact = True

    def __init__(self, encoding: Any, name: str) -> None:
        self._encoding = encoding
        self.name = name

    def count(self, text: str) -> int:
        return len(self._encoding.encode(text, disallowed_special=()))


def _tokenizer_dir() -> Path | None:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"


def _load(name: str) -> TokenCounter:
    directory = _tokenizer_dir()
    path = directory / _FILES[name] if directory else None
    if path is None or not path.is_file():
        return _Estimate()
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    ranks = load_tiktoken_bpe(str(path))
    encoding = tiktoken.Encoding(
        name=f"costroute-{name}", pat_str=_PATTERNS[name], mergeable_ranks=ranks,
        special_tokens=_SPECIAL[name],
    )
    return _Tiktoken(encoding, name)


_lock = threading.Lock()
_counters: dict[str, TokenCounter] = {}


def default_counter(name: str = "o200k_base") -> TokenCounter:
    """The process-wide counter for an encoding (immutable once loaded, so sharing is safe)."""
    counter = _counters.get(name)
    if counter is None:
        with _lock:
            counter = _counters.get(name) or _load(name)
            _counters[name] = counter
    return counter


#: OpenAI models counted with cl100k_base (older ones); other OpenAI models use o200k_base.
_CL100K_OPENAI = ("gpt-4-", "gpt-4", "gpt-3.5", "text-embedding-", "davinci", "babbage")
_O200K_OPENAI = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss")


def encoding_for(models: Sequence[tuple[str, str]]) -> str:
    """The one encoding that counts prompts for a pool of ``(model, provider)``: ``o200k_base``
    (74 MiB resident) only when an OpenAI model that uses it (or an unknown OpenAI model) is in
    the pool, else ``cl100k_base`` (39 MiB): exact for older OpenAI models, and for other
    providers' models, which neither encoding counts exactly, as close an estimate as o200k's."""
    for model, provider in models:
        name = model.split("/")[-1].lower()
        if provider not in ("openai", "azure", "text-completion-openai"):
            continue
        if name.startswith(_O200K_OPENAI) or not name.startswith(_CL100K_OPENAI):
            return "o200k_base"
    return "cl100k_base"


def _text_of(content: Any) -> tuple[str, int]:
    """The text of a message's content and how many images it carries."""
    if content is None:
        return "", 0
    if isinstance(content, str):
        return content, 0
    texts: list[str] = []
    images = 0
    for part in content if isinstance(content, list) else [content]:
        if isinstance(part, Mapping):
            if part.get("type") in ("image_url", "image", "input_image"):
                images += 1
            elif isinstance(part.get("text"), str):
                texts.append(part["text"])
        elif isinstance(part, str):
            texts.append(part)
    return "\n".join(texts), images


def image_parts(messages: Sequence[Mapping[str, Any]]) -> int:
    """How many image parts the conversation carries."""
    return sum(_text_of(m.get("content"))[1] for m in messages)


def _json_text(value: Any) -> str:
    """``value`` as the JSON a provider receives (keys sorted when they can be compared)."""
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except TypeError:  # keys of mixed types cannot be sorted; the provider gets them as given
        return json.dumps(value, default=str)


class MessageTokenCache:
    """A bounded LRU of each message's token count, keyed on a digest of what is counted in it
    (role, name, tool call id, text, images, tool calls) and the counter's encoding: a
    conversation's earlier turns are counted once, not on every request. Thread-safe."""

    def __init__(self, size: int = 16_384) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, bytes], int] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get_many(self, keys: Sequence[tuple[str, bytes]]) -> list[int | None]:
        """The counts kept for ``keys`` (``None`` where absent), under one lock."""
        items = self._items
        with self._lock:
            found = [items.get(key) for key in keys]
            for key, tokens in zip(keys, found, strict=True):
                if tokens is not None:
                    items.move_to_end(key)
        return found

    def put_many(self, pairs: Sequence[tuple[tuple[str, bytes], int]]) -> None:
        items = self._items
        with self._lock:
            for key, tokens in pairs:
                items[key] = tokens
            while len(items) > self._size:
                items.popitem(last=False)


_PLAIN = frozenset({"role", "content"})


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _key(message: Mapping[str, Any], encoding: str) -> tuple[str, bytes]:
    """What a message's count is kept under: a digest of every part of it that is counted."""
    content = message.get("content")
    if type(content) is str and (len(message) == 1 or (len(message) == 2 and "role" in message)):
        role = message.get("role")  # the common case, fast
        return encoding, _digest(f"{role if type(role) is str else ''}\x00{content}")
    text, images = _text_of(content)
    fields = [v if isinstance(v := message.get(k), str) else "" for k in ("role", "name", "tool_call_id")]
    calls = _json_text(message["tool_calls"]) if message.get("tool_calls") else ""
    return encoding, _digest(f"{fields[0]}\x01{fields[1]}\x01{fields[2]}\x01{images}\x01{calls}\x01{text}")


def _message_tokens(message: Mapping[str, Any], counter: TokenCounter) -> int:
    text, images = _text_of(message.get("content"))
    total = _PER_MESSAGE + counter.count(text) + images * IMAGE_TOKENS
    for key in ("role", "name", "tool_call_id"):
        value = message.get(key)
        if isinstance(value, str):
            total += counter.count(value)
    if message.get("tool_calls"):
        total += counter.count(_json_text(message["tool_calls"]))
    return total


def count_message_tokens(
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Any] | None = None,
    counter: TokenCounter | None = None,
    cache: MessageTokenCache | None = None,
) -> int:
    """Prompt tokens of a chat request: every message, tool calls, tool schemas and images. With a
    ``cache``, a message counted before (same content, same encoding) is not counted again."""
    counter = counter or default_counter()
    if cache is None:
        total = _PER_REPLY + sum(_message_tokens(message, counter) for message in messages)
        return total + (counter.count(_json_text(list(tools))) if tools else 0)
    encoding = str(getattr(counter, "name", id(counter)))
    keys = [_key(message, encoding) for message in messages]
    schema = _json_text(list(tools)) if tools else None
    if schema is not None:
        keys.append((encoding, _digest("tools\x01" + schema)))
    found = cache.get_many(keys)
    new: list[tuple[tuple[str, bytes], int]] = []
    total = _PER_REPLY
    for i, (key, tokens) in enumerate(zip(keys, found, strict=True)):
        if tokens is None:
            tokens = _message_tokens(messages[i], counter) if i < len(messages) else counter.count(schema or "")
            new.append((key, tokens))
        total += tokens
    if new:
        cache.put_many(new)
    return total
