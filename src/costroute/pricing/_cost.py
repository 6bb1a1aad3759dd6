"""Pricing a usage: pure functions over :class:`PriceSheet` and :class:`Usage`.

Token kinds are disjoint in :class:`Usage`, so the cost is a plain sum of ``tokens x price``. The
providers report usage in overlapping conventions; :func:`usage_from_openai` is the one place that
turns their blocks into disjoint kinds.

==========================  ==================================  =================================
shape                       prompt count                        completion count
==========================  ==================================  =================================
OpenAI chat / litellm       ``prompt_tokens`` includes cache    ``completion_tokens`` includes
                            reads and writes                    reasoning
OpenAI Responses            ``input_tokens`` includes cache     ``output_tokens`` includes
                            reads and writes                    reasoning
Anthropic Messages          ``input_tokens`` excludes cache     ``output_tokens`` (thinking
                            reads and writes                    included, not broken out)
Bedrock Converse            ``inputTokens`` excludes cache      ``outputTokens``
                            reads and writes
Gemini ``usageMetadata``    ``promptTokenCount`` includes       ``candidatesTokenCount``
                            ``cachedContentTokenCount``         excludes ``thoughtsTokenCount``
DeepSeek                    ``prompt_tokens`` =                 like OpenAI
                            ``prompt_cache_hit_tokens`` + miss
==========================  ==================================  =================================

Cache writes by lifetime: Anthropic's ``cache_creation_input_tokens`` counts every write and
``cache_creation: {ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}`` splits them; Bedrock
splits ``cacheWriteInputTokens`` in ``cacheDetails: [{ttl: "5m" | "1h", inputTokens}]``; litellm
carries the split as ``prompt_tokens_details.cache_creation_token_details`` (same two names).
The 1-hour writes become :attr:`Usage.cache_write_1h_tokens`; writes no breakdown attributes stay
in :attr:`Usage.cache_write_tokens`, as litellm does.

litellm (checked against 1.110: ``AnthropicConfig.calculate_usage``, the Bedrock Converse and the
Gemini transformations) normalises every provider to the OpenAI chat convention, adding Anthropic's
``cache_read_input_tokens`` *and* ``cache_creation_input_tokens`` into ``prompt_tokens`` and
Gemini's thoughts into ``completion_tokens``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Context, Decimal
from typing import Any

from ._sheet import MTOK, PriceSheet, PriceTier, Usage

__all__ = ["cost_of", "estimate_cost", "usage_from_openai"]

# Wide enough that no realistic ``tokens x price`` product is ever rounded.
_PRECISION = 60

_ANTHROPIC_PROVIDERS = frozenset(
    {"anthropic", "bedrock", "bedrock_converse", "vertex_ai-anthropic_models"}
)


def _prices(sheet: PriceSheet, prompt_tokens: int) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    """(input, output, cache read, cache write, 1-hour cache write) prices for a prompt of
    ``prompt_tokens``."""
    tier: PriceSheet | PriceTier = sheet
    best = -1
    for candidate in sheet.tiers:
        if prompt_tokens > candidate.above_input_tokens > best:
            tier, best = candidate, candidate.above_input_tokens
    read = tier.cached_input_per_mtok
    write = tier.input_per_mtok if tier.cache_write_per_mtok is None else tier.cache_write_per_mtok
    write_1h = tier.cache_write_1h_per_mtok
    return (
        tier.input_per_mtok,
        tier.output_per_mtok,
        tier.input_per_mtok if read is None else read,
        write,
        write if write_1h is None else write_1h,
    )


def cost_of(sheet: PriceSheet, usage: Usage) -> Decimal:
    """The exact cost in US dollars of ``usage`` at ``sheet``'s prices.

    Reasoning tokens are billed as output. Cache reads and writes use their own prices, or the input
    price when the sheet has none; 1-hour cache writes use their own price, or the (5-minute) write
    price. A long-context tier applies to the whole request once the prompt (cached or not) exceeds
    its threshold; of several, the highest threshold passed wins. Missing cache prices in a tier
    fall back the same way within that tier.
    """
    counts = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.cache_write_1h_tokens,
        usage.reasoning_tokens,
    )
    if min(counts) < 0:
        raise ValueError(f"token counts cannot be negative: {usage!r}")
    input_p, output_p, read_p, write_p, write_1h_p = _prices(sheet, usage.prompt_tokens)
    exact = Context(prec=_PRECISION)  # per call: a Context records flags, so it is not shared
    mul, add = exact.multiply, exact.add
    total = add(
        add(mul(input_p, usage.input_tokens), mul(output_p, usage.billed_output_tokens)),
        add(
            mul(read_p, usage.cache_read_tokens),
            add(mul(write_p, usage.cache_write_tokens), mul(write_1h_p, usage.cache_write_1h_tokens)),
        ),
    )
    return exact.divide(total, MTOK)


def estimate_cost(sheet: PriceSheet, input_tokens: int, output_tokens: int) -> Decimal:
    """The cost of a request of ``input_tokens`` uncached prompt and ``output_tokens`` answer."""
    return cost_of(sheet, Usage(input_tokens=input_tokens, output_tokens=output_tokens))


def _field(block: Any, name: str) -> Any:
    if block is None:
        return None
    if isinstance(block, Mapping):
        return block.get(name)
    return getattr(block, name, None)


def _count(value: Any) -> int | None:
    """A token count (negative ones become 0), or ``None`` when absent, non-numeric or infinite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return max(0, int(value))


def _first(*values: Any) -> int:
    for value in values:
        count = _count(value)
        if count is not None:
            return count
    return 0


def _has(block: Any, name: str) -> bool:
    return _count(_field(block, name)) is not None


def _split_writes(total: int, one_hour: int) -> tuple[int, int]:
    """(default-lifetime writes, 1-hour writes) from a write total that includes the 1-hour ones;
    writes the breakdown does not attribute are of the default lifetime."""
    total = max(total, one_hour)
    return total - one_hour, one_hour


def _usage(prompt: int, read: int, write: int, write_1h: int, completion: int, reasoning: int) -> Usage:
    """From inclusive counts (prompt includes read and every write, ``write`` includes
    ``write_1h``, completion includes reasoning)."""
    write, write_1h = _split_writes(write, write_1h)
    return Usage(
        input_tokens=max(0, prompt - read - write - write_1h),
        output_tokens=max(0, completion - reasoning),
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=write_1h,
        reasoning_tokens=min(reasoning, completion) if completion else reasoning,
    )


def usage_from_openai(usage: Any, provider: str = "") -> Usage:
    """Normalise a provider's or litellm's usage block (a mapping or an object) into disjoint kinds.

    ``provider`` (a litellm provider name such as ``"anthropic"``) settles the one ambiguous
    shape: a block with ``input_tokens`` and no ``prompt_tokens`` is Anthropic's (cache excluded)
    for Anthropic providers and OpenAI Responses' (cache included) otherwise. Counts are never
    negative.
    """
    if usage is None:
        return Usage()
    if _has(usage, "promptTokenCount") or _has(usage, "candidatesTokenCount"):
        return _from_gemini(usage)
    if not _has(usage, "prompt_tokens") and (_has(usage, "inputTokens") or _has(usage, "outputTokens")):
        return _from_converse(usage)
    if not _has(usage, "prompt_tokens") and _has(usage, "input_tokens"):
        anthropic = provider.lower() in _ANTHROPIC_PROVIDERS or (
            _field(usage, "input_tokens_details") is None
            and (
                _has(usage, "cache_read_input_tokens")
                or _has(usage, "cache_creation_input_tokens")
                or isinstance(_field(usage, "cache_creation"), Mapping)
            )
        )
        return _from_anthropic(usage) if anthropic else _from_responses(usage)
    details = _field(usage, "prompt_tokens_details")
    read = _first(
        _field(details, "cached_tokens"),
        _field(usage, "cache_read_input_tokens"),
        _field(usage, "prompt_cache_hit_tokens"),
    )
    write = _first(
        _field(details, "cache_write_tokens"),
        _field(details, "cache_creation_tokens"),
        _field(usage, "cache_creation_input_tokens"),
    )
    write_1h = _first(
        _field(_field(details, "cache_creation_token_details"), "ephemeral_1h_input_tokens"),
        _field(_field(usage, "cache_creation"), "ephemeral_1h_input_tokens"),
    )
    prompt = _count(_field(usage, "prompt_tokens"))
    if prompt is None:
        prompt = read + _first(_field(usage, "prompt_cache_miss_tokens"))
    reasoning = _first(
        _field(_field(usage, "completion_tokens_details"), "reasoning_tokens"),
        _field(usage, "reasoning_tokens"),
    )
    return _usage(prompt, read, write, write_1h, _first(_field(usage, "completion_tokens")), reasoning)


def _from_anthropic(usage: Any) -> Usage:
    """Anthropic Messages: counts exclude each other. ``cache_creation_input_tokens`` is every
    write, broken down by lifetime in ``cache_creation``; a response that ran several iterations
    (server tools) reports them in ``iterations``, which are summed as litellm does."""
    iterations = _field(usage, "iterations")
    parts = [it for it in iterations if isinstance(it, Mapping)] if isinstance(iterations, list) else []
    if not parts:
        parts = [usage]

    def total(name: str) -> int:
        return sum(_first(_field(part, name)) for part in parts)

    breakdowns = [b for b in (_field(part, "cache_creation") for part in parts) if isinstance(b, Mapping)]
    if not breakdowns:  # iterations without a breakdown: the top-level one, as litellm does
        breakdowns = [_field(usage, "cache_creation")]
    five_min = sum(_first(_field(b, "ephemeral_5m_input_tokens")) for b in breakdowns)
    one_hour = sum(_first(_field(b, "ephemeral_1h_input_tokens")) for b in breakdowns)
    write, write_1h = _split_writes(max(total("cache_creation_input_tokens"), five_min + one_hour), one_hour)
    return Usage(
        input_tokens=total("input_tokens"),
        output_tokens=total("output_tokens"),
        cache_read_tokens=total("cache_read_input_tokens"),
        cache_write_tokens=write,
        cache_write_1h_tokens=write_1h,
    )


def _from_responses(usage: Any) -> Usage:
    """OpenAI Responses: ``input_tokens`` includes cache reads and writes."""
    details = _field(usage, "input_tokens_details")
    return _usage(
        _first(_field(usage, "input_tokens")),
        _first(_field(details, "cached_tokens")),
        _first(_field(details, "cache_write_tokens")),
        0,
        _first(_field(usage, "output_tokens")),
        _first(_field(_field(usage, "output_tokens_details"), "reasoning_tokens")),
    )


def _from_converse(usage: Any) -> Usage:
    """Bedrock Converse (and batch output): ``inputTokens`` excludes cache reads and writes;
    ``cacheDetails`` splits the writes by lifetime (``ttl`` ``5m`` or ``1h``)."""
    write = _first(_field(usage, "cacheWriteInputTokens"), _field(usage, "cacheWriteInputTokenCount"))
    details = _field(usage, "cacheDetails")
    one_hour = 0
    if isinstance(details, list):
        one_hour = sum(_first(_field(d, "inputTokens")) for d in details if _field(d, "ttl") == "1h")
    write, write_1h = _split_writes(write, one_hour)
    return Usage(
        input_tokens=_first(_field(usage, "inputTokens")),
        output_tokens=_first(_field(usage, "outputTokens")),
        cache_read_tokens=_first(_field(usage, "cacheReadInputTokens"), _field(usage, "cacheReadInputTokenCount")),
        cache_write_tokens=write,
        cache_write_1h_tokens=write_1h,
    )


def _from_gemini(meta: Any) -> Usage:
    prompt = _first(_field(meta, "promptTokenCount"))
    read = min(prompt, _first(_field(meta, "cachedContentTokenCount")))
    return Usage(
        input_tokens=prompt - read + _first(_field(meta, "toolUsePromptTokenCount")),
        output_tokens=_first(_field(meta, "candidatesTokenCount")),
        cache_read_tokens=read,
        reasoning_tokens=_first(_field(meta, "thoughtsTokenCount")),
    )
