"""The fake's prompt caching: OpenAI's automatic prefix reuse and Anthropic's marked prefixes."""

from __future__ import annotations

from costroute.testing._fake_cache import MIN_CACHED_TOKENS, PrefixCache

LONG = {"role": "system", "content": "rule " * 2000}


def test_openai_reports_a_repeated_prefix_in_128_token_steps() -> None:
    cache = PrefixCache()
    first = {"messages": [LONG, {"role": "user", "content": "q1"}]}
    prompt, cached = cache.openai("m", first)
    assert cached == 0 and prompt > MIN_CACHED_TOKENS
    grown = {"messages": [*first["messages"], {"role": "assistant", "content": "a"}, {"role": "user", "content": "q2"}]}
    prompt2, cached2 = cache.openai("m", grown)
    assert MIN_CACHED_TOKENS <= cached2 <= prompt and cached2 % 128 == 0 and prompt2 > prompt
    assert cache.openai("other", grown)[1] == 0  # per model
    assert cache.openai("m", {"messages": grown["messages"], "tools": [{"type": "function"}]})[1] == 0
    short = PrefixCache()
    small = {"messages": [{"role": "user", "content": "hi"}]}
    short.openai("m", small)
    assert short.openai("m", small)[1] == 0  # below the minimum


def test_anthropic_writes_a_marked_prefix_then_reads_it() -> None:
    cache = PrefixCache()
    body = {"system": [{"type": "text", "text": "rule " * 2000, "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "q1"}]}
    first = cache.anthropic("claude", body)
    assert first["cache_creation_input_tokens"] > MIN_CACHED_TOKENS and first["cache_read_input_tokens"] == 0
    again = cache.anthropic("claude", {**body, "messages": [{"role": "user", "content": "q2"}]})
    assert again["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert again["cache_creation_input_tokens"] == 0 and again["input_tokens"] > 0
    unmarked = {**body, "system": [{"type": "text", "text": "rule " * 2000}]}
    plain = cache.anthropic("claude", unmarked)
    assert plain["cache_read_input_tokens"] == plain["cache_creation_input_tokens"] == 0
