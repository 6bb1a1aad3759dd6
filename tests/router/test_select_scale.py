"""Selection that scales (prefiltered, ranked on floats, explained lazily) gives the decision an
exhaustive exact ranking gives; token counts cached per message equal counting afresh."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costroute import NoAdequateModelError
from costroute.pricing import estimate_cost
from costroute.pricing._sheet import PriceSheet, PriceTier
from costroute.router._select import Candidate, RequestNeeds, reject_reason, select
from costroute.router._tokens import MessageTokenCache, count_message_tokens, default_counter, encoding_for

TIERS = {"cheap": 0.0, "standard": 0.6, "premium": 0.8}
THRESHOLDS = {"cheap": 0.0, "standard": 0.35, "premium": 0.65}


def _sheet(i: int, o: int, long_context: bool) -> PriceSheet:
    tiers = (PriceTier(above_input_tokens=2000, input_per_mtok=Decimal(i * 2) / 10,
                       output_per_mtok=Decimal(o * 2) / 10),) if long_context else ()
    return PriceSheet(model="m", input_per_mtok=Decimal(i) / 10, output_per_mtok=Decimal(o) / 10, tiers=tiers)


candidates = st.builds(
    lambda n, q, i, o, long, window, tools: Candidate(
        name=f"p/m{n}", quality=q, sheet=_sheet(i, o, long) if i else None, max_input_tokens=window,
        supports_tools=tools),
    st.integers(0, 10**6), st.sampled_from([0.3, 0.5, 0.6, 0.7, 0.8, 0.9]), st.integers(0, 40),
    st.integers(1, 40), st.booleans(), st.sampled_from([None, 3000, 100_000]), st.sampled_from([None, True, False]),
)


def _exhaustive(pool, needs, difficulty):
    """The decision as a full exact ranking makes it: (model, tier) or None."""
    wanted = next(t for t in sorted(TIERS, key=TIERS.get, reverse=True) if difficulty >= THRESHOLDS[t])
    for tier in [t for t in sorted(TIERS, key=TIERS.get) if TIERS[t] >= TIERS[wanted]]:
        ok = [c for c in pool if reject_reason(c, needs) is None and c.quality >= TIERS[tier]]
        if ok:
            best = min(ok, key=lambda c: (estimate_cost(c.sheet, needs.input_tokens, needs.output_tokens),
                                          -c.quality, c.name))
            return best.name, tier, [c.name for c in sorted(ok, key=lambda c: (
                estimate_cost(c.sheet, needs.input_tokens, needs.output_tokens), -c.quality, c.name))]
    return None


@settings(max_examples=150, deadline=None)
@given(st.lists(candidates, min_size=1, max_size=30, unique_by=lambda c: c.name),
       st.integers(1, 5000), st.integers(1, 800), st.floats(0, 1), st.booleans())
def test_the_scaled_selection_matches_an_exhaustive_exact_one(pool, tokens, out, difficulty, tools) -> None:
    needs = RequestNeeds(input_tokens=tokens, output_tokens=out, max_output_tokens=out, tools=tools)
    expected = _exhaustive(pool, needs, difficulty)
    try:
        decision = select(difficulty=difficulty, needs=needs, pool=pool, tiers=TIERS, thresholds=THRESHOLDS)
    except NoAdequateModelError as exc:
        assert expected is None
        assert set(exc.rejections) == {c.name for c in pool}
        return
    assert expected is not None
    model, tier, order = expected
    assert (decision.model, decision.tier) == (model, tier)
    assert [decision.model, *decision.fallbacks] == order
    chosen = next(c for c in pool if c.name == model)
    assert decision.est_cost_usd == estimate_cost(chosen.sheet, tokens, out)  # exact, not a float
    ranked = list(decision.candidates)  # the explanation, built now
    assert len(ranked) == len(decision.candidates) == len(pool)
    assert {r.model for r in ranked} == {c.name for c in pool}
    assert [r.model for r in ranked if r.eligible] == order
    assert all(r.rejected for r in ranked[len(order):])
    assert decision.candidates == tuple(ranked) and decision.candidates[0].model == model


def test_the_explanation_is_built_only_when_read() -> None:
    pool = [Candidate(name=f"p/m{i}", quality=0.9, sheet=_sheet(i + 1, 1, False)) for i in range(300)]
    needs = RequestNeeds(input_tokens=100, output_tokens=10)
    decision = select(difficulty=0.1, needs=needs, pool=pool, tiers=TIERS, thresholds=THRESHOLDS)
    assert decision.candidates._built is None  # type: ignore[attr-defined]
    assert decision.model == "p/m0" and decision.fallbacks[:2] == ["p/m1", "p/m2"]
    assert decision.candidates._built is None  # type: ignore[attr-defined]
    assert decision.candidates[1].est_cost_usd == estimate_cost(pool[1].sheet, 100, 10)


# -- token counts ------------------------------------------------------------------------------

texts = st.text(max_size=60)
messages = st.lists(st.one_of(
    st.builds(lambda r, t: {"role": r, "content": t}, st.sampled_from(["user", "assistant", "system"]), texts),
    st.builds(lambda t, n: {"role": "user", "name": n, "content": [{"type": "text", "text": t},
                                                                    {"type": "image_url", "image_url": {"url": "u"}}]},
              texts, st.sampled_from(["ann", "bob"])),
    st.builds(lambda t: {"role": "assistant", "content": None,
                         "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": t}}]}, texts),
    st.builds(lambda t: {"role": "tool", "tool_call_id": "c1", "content": t}, texts),
), max_size=8)


@settings(max_examples=150, deadline=None)
@given(st.lists(messages, min_size=1, max_size=4))
def test_cached_counts_equal_fresh_counts(conversations) -> None:
    counter = default_counter()
    cache = MessageTokenCache(size=16)  # small: entries are evicted and counted again
    for conversation in conversations:
        for _ in range(2):
            assert count_message_tokens(conversation, counter=counter, cache=cache) == count_message_tokens(
                conversation, counter=counter)
    assert len(cache) <= 16


def test_earlier_turns_are_counted_once_and_changes_are_counted_again() -> None:
    calls: list[str] = []

    class Counting:
        name = "counting"

        def count(self, text: str) -> int:
            calls.append(text)
            return len(text.split())

    cache = MessageTokenCache()
    history = [{"role": "user", "content": f"turn {i} words"} for i in range(100)]
    first = count_message_tokens(history, counter=Counting(), cache=cache)
    calls.clear()
    longer = count_message_tokens([*history, {"role": "user", "content": "a new one"}], counter=Counting(), cache=cache)
    assert calls == ["a new one", "user"] and longer == first + 3 + 3 + 1
    calls.clear()
    edited = [*history[:-1], {"role": "user", "content": "turn 99 wordz"}]  # the same length, other text
    count_message_tokens(edited, counter=Counting(), cache=cache)
    assert calls == ["turn 99 wordz", "user"]
    calls.clear()
    count_message_tokens([{"role": "assistant", "content": "turn 0 words"}], counter=Counting(), cache=cache)
    assert calls == ["turn 0 words", "assistant"]  # another role is another message


@pytest.mark.parametrize("size", [1, 4])
def test_the_cache_is_bounded(size: int) -> None:
    cache = MessageTokenCache(size=size)
    count_message_tokens([{"role": "user", "content": f"m{i}"} for i in range(10)], counter=default_counter(),
                         cache=cache)
    assert len(cache) == size


@pytest.mark.parametrize(("models", "encoding"), [
    ([("openai/gpt-4o-mini", "openai"), ("anthropic/claude-sonnet-4-5", "anthropic")], "o200k_base"),
    ([("anthropic/claude-sonnet-4-5", "anthropic"), ("gemini/gemini-2.5-flash", "gemini")], "cl100k_base"),
    ([("openai/gpt-3.5-turbo", "openai"), ("openai/gpt-4-turbo", "openai")], "cl100k_base"),
    ([("openai/some-new-model", "openai")], "o200k_base"),  # unknown: the newer encoding
    ([("openai/o3-mini", "openai")], "o200k_base"),
])
def test_the_smallest_encoding_that_serves_the_models_is_chosen(models, encoding) -> None:
    assert encoding_for(models) == encoding


def test_a_client_without_openai_models_does_not_load_o200k() -> None:
    from costroute import Client
    from costroute.spend import MemoryLedger

    config = {"models": [{"name": "anthropic/claude-sonnet-4-5", "api_key": "sk-ant-test-000000000"}]}
    with Client(config, ledger=MemoryLedger()) as client:
        client.route([{"role": "user", "content": "Hello there"}])
        assert client._engine._encoding == "cl100k_base"
