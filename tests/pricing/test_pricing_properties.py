"""Properties of cost_of and usage_from_openai, for any sheet and usage."""

from __future__ import annotations

from dataclasses import fields, replace
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from costroute.pricing import PriceSheet, PriceTier, Usage, cost_of, usage_from_openai

KINDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
)

# No deadline: a timing limit is a flaky assertion on a machine shared by several test runs.
untimed = settings(deadline=None)

prices = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=10**9)
usages = st.builds(Usage, **{k: counts for k in KINDS})


@st.composite
def sheets(draw: st.DrawFn, *, with_tiers: bool = True) -> PriceSheet:
    base = PriceSheet(
        "m",
        draw(prices),
        draw(prices),
        cached_input_per_mtok=draw(st.none() | prices),
        cache_write_per_mtok=draw(st.none() | prices),
        cache_write_1h_per_mtok=draw(st.none() | prices),
    )
    if not with_tiers:
        return base
    # Tiers that only get dearer, so that crossing a threshold never lowers the bill.
    eff = [
        base.input_per_mtok,
        base.output_per_mtok,
        base.cached_input_per_mtok
        if base.cached_input_per_mtok is not None
        else base.input_per_mtok,
        base.cache_write_per_mtok if base.cache_write_per_mtok is not None else base.input_per_mtok,
    ]
    eff.append(base.cache_write_1h_per_mtok if base.cache_write_1h_per_mtok is not None else eff[3])
    tiers = []
    threshold = 0
    for _ in range(draw(st.integers(0, 3))):
        threshold += draw(st.integers(1, 10**9))
        eff = [p + draw(prices) for p in eff]
        tiers.append(PriceTier(threshold, *eff))
    return replace(base, tiers=tuple(tiers))


def _exact(sheet: PriceSheet, usage: Usage) -> Fraction:
    read = sheet.cached_input_per_mtok
    write = sheet.input_per_mtok if sheet.cache_write_per_mtok is None else sheet.cache_write_per_mtok
    write_1h = write if sheet.cache_write_1h_per_mtok is None else sheet.cache_write_1h_per_mtok
    return (
        Fraction(sheet.input_per_mtok) * usage.input_tokens
        + Fraction(sheet.output_per_mtok) * (usage.output_tokens + usage.reasoning_tokens)
        + Fraction(sheet.input_per_mtok if read is None else read) * usage.cache_read_tokens
        + Fraction(write) * usage.cache_write_tokens
        + Fraction(write_1h) * usage.cache_write_1h_tokens
    ) / 1_000_000


@untimed
@given(sheets(), usages)
def test_never_negative(sheet: PriceSheet, usage: Usage) -> None:
    assert cost_of(sheet, usage) >= 0


@untimed
@given(sheets(with_tiers=False), usages)
def test_exact_decimal(sheet: PriceSheet, usage: Usage) -> None:
    cost = cost_of(sheet, usage)
    assert isinstance(cost, Decimal)
    assert Fraction(cost) == _exact(sheet, usage)


@untimed
@given(sheets(), usages, st.sampled_from(KINDS), st.integers(1, 10**9))
def test_monotone_in_each_kind(sheet: PriceSheet, usage: Usage, kind: str, more: int) -> None:
    bigger = replace(usage, **{kind: getattr(usage, kind) + more})
    assert cost_of(sheet, bigger) >= cost_of(sheet, usage)


@untimed
@given(sheets(with_tiers=False), usages, usages)
def test_additive_across_a_split(sheet: PriceSheet, a: Usage, b: Usage) -> None:
    total = Usage(**{k: getattr(a, k) + getattr(b, k) for k in KINDS})
    assert cost_of(sheet, a) + cost_of(sheet, b) == cost_of(sheet, total)


@untimed
@given(usages)
def test_openai_shape_round_trips(usage: Usage) -> None:
    block = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.billed_output_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens + usage.cache_write_1h_tokens,
            "cache_creation_token_details": {"ephemeral_1h_input_tokens": usage.cache_write_1h_tokens},
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    assert usage_from_openai(block, "openai") == usage


any_count = (
    st.none() | st.integers(-(10**9), 10**9) | st.floats() | st.booleans() | st.text(max_size=3)
)


@untimed
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "prompt_tokens": any_count,
            "completion_tokens": any_count,
            "input_tokens": any_count,
            "output_tokens": any_count,
            "cache_read_input_tokens": any_count,
            "cache_creation_input_tokens": any_count,
            "cache_creation": st.none()
            | st.fixed_dictionaries(
                {}, optional={"ephemeral_5m_input_tokens": any_count, "ephemeral_1h_input_tokens": any_count}
            ),
            "inputTokens": any_count,
            "cacheWriteInputTokens": any_count,
            "cacheDetails": st.none()
            | st.lists(
                st.fixed_dictionaries({"ttl": st.sampled_from(["5m", "1h", "x"]), "inputTokens": any_count}),
                max_size=3,
            ),
            "prompt_cache_hit_tokens": any_count,
            "promptTokenCount": any_count,
            "cachedContentTokenCount": any_count,
            "candidatesTokenCount": any_count,
            "thoughtsTokenCount": any_count,
            "prompt_tokens_details": st.none()
            | st.fixed_dictionaries({"cached_tokens": any_count}),
            "completion_tokens_details": st.none()
            | st.fixed_dictionaries({"reasoning_tokens": any_count}),
        },
    ),
    st.sampled_from(["openai", "anthropic", "gemini", "deepseek", ""]),
)
def test_parsed_counts_never_negative(block: dict[str, object], provider: str) -> None:
    usage = usage_from_openai(block, provider)
    assert all(getattr(usage, f.name) >= 0 for f in fields(usage) if f.name != "extra")


small = st.integers(min_value=0, max_value=10**6)


@st.composite
def anthropic_blocks(draw: st.DrawFn) -> dict[str, object]:
    block: dict[str, object] = {"input_tokens": draw(small), "output_tokens": draw(small)}
    if draw(st.booleans()):
        block["cache_read_input_tokens"] = draw(small)
    if draw(st.booleans()):
        five, hour = draw(small), draw(small)
        block["cache_creation_input_tokens"] = five + hour + draw(st.sampled_from([0, 0, 7]))  # some unattributed
        if draw(st.booleans()):
            block["cache_creation"] = {"ephemeral_5m_input_tokens": five, "ephemeral_1h_input_tokens": hour}
    return block


@settings(deadline=None, max_examples=60)
@given(anthropic_blocks())
def test_anthropic_native_and_through_litellm_agree(block: dict[str, object]) -> None:
    """The same Anthropic usage, read natively or after litellm's AnthropicConfig.calculate_usage."""
    import os
    import warnings

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from litellm.llms.anthropic.chat.transformation import AnthropicConfig

        through = AnthropicConfig().calculate_usage(block, reasoning_content=None)
    assert usage_from_openai(through, "anthropic") == usage_from_openai(block, "anthropic")
