"""Session-aware routing, pure: cached-input estimates (golden, hand-computed, equal to what the
provider's usage shape bills) and the stickiness rules of ``session_choice``."""

from __future__ import annotations

import threading
from decimal import Decimal

from costroute.pricing import PriceSheet, cost_of, usage_from_openai
from costroute.providers._table import provider_rules
from costroute.router._select import Candidate, RequestNeeds, select
from costroute.router._sessions import (
    DEFAULT_LIFETIME_S,
    SessionState,
    SessionTable,
    cache_lifetime_s,
    cached_estimate,
    cached_tokens,
    prefix_digest,
    session_choice,
)

D = Decimal
TIERS = {"economy": 0.0, "standard": 0.6, "premium": 0.8}
THRESHOLDS = {"economy": 0.0, "standard": 0.35, "premium": 0.65}

MINI = PriceSheet("openai/gpt-4.1-mini", D("0.40"), D("1.60"), cached_input_per_mtok=D("0.10"))
SONNET = PriceSheet("anthropic/claude-sonnet-4-5", D("3"), D("15"), cached_input_per_mtok=D("0.30"),
                    cache_write_per_mtok=D("3.75"))
FLASH = PriceSheet("gemini/gemini-2.5-flash", D("0.30"), D("2.50"), cached_input_per_mtok=D("0.03"))
NANO = PriceSheet("openai/gpt-4.1-nano", D("0.10"), D("0.40"), cached_input_per_mtok=D("0.025"))
NEEDS = RequestNeeds(input_tokens=3000, output_tokens=200)


# -- golden estimates: what ranking assumes is what the provider's usage will bill ----------------

def test_openai_cached_estimate_is_the_bill_of_openai_usage() -> None:
    # 952 x 0.40 + 2048 x 0.10 + 200 x 1.60 = 380.8 + 204.8 + 320 = 905.6 $/Mtok
    estimate = cached_estimate(MINI, NEEDS, read=2048)
    assert estimate == D("0.0009056")
    billed = usage_from_openai({"prompt_tokens": 3000, "completion_tokens": 200,
                                "prompt_tokens_details": {"cached_tokens": 2048}}, "openai")
    assert cost_of(MINI, billed) == estimate


def test_anthropic_write_then_read_estimates_are_the_bills_of_anthropic_usage() -> None:
    # first turn writes the marked 2500: 500 x 3 + 2500 x 3.75 + 200 x 15 = 1500 + 9375 + 3000
    write = cached_estimate(SONNET, NEEDS, read=0, write=2500)
    assert write == D("0.013875")
    assert cost_of(SONNET, usage_from_openai({"input_tokens": 500, "output_tokens": 200,
                                              "cache_creation_input_tokens": 2500}, "anthropic")) == write
    # later turns read it: 500 x 3 + 2500 x 0.30 + 3000 = 1500 + 750 + 3000
    read = cached_estimate(SONNET, NEEDS, read=2500)
    assert read == D("0.00525")
    assert cost_of(SONNET, usage_from_openai({"input_tokens": 500, "output_tokens": 200,
                                              "cache_read_input_tokens": 2500}, "anthropic")) == read
    assert cached_estimate(SONNET, NEEDS, read=0) == D("0.012")  # 3000 x 3 + 3000, unmarked


def test_gemini_implicit_cache_estimate_is_the_bill_of_usage_metadata() -> None:
    # 1000 x 0.30 + 2000 x 0.03 + 200 x 2.50 = 300 + 60 + 500 = 860
    estimate = cached_estimate(FLASH, NEEDS, read=2000)
    assert estimate == D("0.00086")
    meta = {"promptTokenCount": 3000, "cachedContentTokenCount": 2000, "candidatesTokenCount": 200}
    assert cost_of(FLASH, usage_from_openai(meta, "gemini")) == estimate


def test_estimates_never_cache_more_than_the_prompt() -> None:
    assert cached_estimate(MINI, NEEDS, read=10_000) == cached_estimate(MINI, NEEDS, read=3000)
    assert cached_estimate(SONNET, NEEDS, read=2000, write=5000) == cached_estimate(SONNET, NEEDS, 2000, 1000)


# -- what the provider still caches ------------------------------------------------------------

MESSAGES = [{"role": "system", "content": "tools and rules"}, {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"}, {"role": "user", "content": "next"}]


def _state(model: str = "openai/gpt-4.1-mini", tier: str = "standard", used: float = 100.0,
           tokens: int = 2048, count: int = 2) -> SessionState:
    return SessionState(model=model, tier=tier, last_used=used, prefix_tokens=tokens, prefix_messages=count,
                        prefix_digest=prefix_digest(MESSAGES, None, count), lifetime_s=300.0)


def test_cached_tokens_need_the_same_model_prefix_and_a_live_cache() -> None:
    state = _state()
    assert cached_tokens(state, "openai/gpt-4.1-mini", MESSAGES, None, now=399.0) == 2048
    assert cached_tokens(state, "openai/gpt-4.1-mini", MESSAGES, None, now=401.0) == 0  # expired
    assert cached_tokens(state, "openai/gpt-4.1-nano", MESSAGES, None, now=101.0) == 0  # other model
    edited = [{"role": "system", "content": "other rules"}, *MESSAGES[1:]]
    assert cached_tokens(state, "openai/gpt-4.1-mini", edited, None, now=101.0) == 0  # prefix changed
    assert cached_tokens(state, "openai/gpt-4.1-mini", MESSAGES, [{"type": "function"}], now=101.0) == 0
    assert cached_tokens(state, "openai/gpt-4.1-mini", MESSAGES[:1], None, now=101.0) == 0  # shorter prompt
    assert cached_tokens(None, "openai/gpt-4.1-mini", MESSAGES, None, now=101.0) == 0


def test_lifetimes_come_from_the_provider_table() -> None:
    assert cache_lifetime_s(provider_rules("anthropic").cache) == 300.0
    assert cache_lifetime_s(provider_rules("openai").cache) == DEFAULT_LIFETIME_S  # "5-10 minutes": the short end
    assert cache_lifetime_s(provider_rules("somewhere-unknown").cache) is None
    assert provider_rules("anthropic").cache.min_prefix_tokens("anthropic/claude-sonnet-4-5") == 1024
    assert provider_rules("anthropic").cache.min_prefix_tokens("anthropic/claude-3-5-haiku") == 2048


def test_session_table_is_bounded_and_thread_safe() -> None:
    table = SessionTable(size=50, clock=lambda: 7.0)

    def fill(base: int) -> None:
        for i in range(200):
            table.put(f"s{base}-{i}", _state())
            table.get(f"s{base}-{i // 2}")

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(table) == 50
    assert table.now() == 7.0


# -- stickiness ---------------------------------------------------------------------------------

POOL = (
    Candidate("openai/gpt-4.1-nano", 0.62, "openai", NANO),
    Candidate("openai/gpt-4.1-mini", 0.7, "openai", MINI),
    Candidate("anthropic/claude-sonnet-4-5", 0.92, "anthropic", SONNET),
)


def _route(difficulty: float, needs: RequestNeeds = NEEDS):
    return select(difficulty=difficulty, needs=needs, pool=POOL, tiers=TIERS, thresholds=THRESHOLDS)


def test_moves_when_another_model_is_cheaper_after_losing_the_cache() -> None:
    base = _route(0.4)
    assert base.model == "openai/gpt-4.1-nano"  # 3000 x 0.10 + 200 x 0.40 = 380 $/Mtok
    # mini with 2048 cached: 905.6 $/Mtok, dearer than nano's 380 uncached: the session moves
    moved = session_choice(base, pool=POOL, needs=NEEDS, tiers=TIERS, state=_state(),
                           cache={"openai/gpt-4.1-mini": (2048, 0)})
    assert moved.model == "openai/gpt-4.1-nano" and moved.session is not None and not moved.session.kept
    assert moved.session.note == ("moved from openai/gpt-4.1-mini to openai/gpt-4.1-nano: openai/gpt-4.1-nano "
                                  "at $0.00038 is cheaper than openai/gpt-4.1-mini at $0.0009056 even with its cache")


def test_kept_for_session_cache_with_both_costs() -> None:
    cheap_out = RequestNeeds(input_tokens=40_000, output_tokens=10)
    base = _route(0.4, cheap_out)
    assert base.model == "openai/gpt-4.1-nano"  # 40000 x 0.10 + 10 x 0.40 = 4004
    # mini with 39936 cached: 64 x 0.40 + 39936 x 0.10 + 10 x 1.60 = 25.6 + 3993.6 + 16 = 4035.2: moved
    assert session_choice(base, pool=POOL, needs=cheap_out, tiers=TIERS, state=_state(),
                          cache={"openai/gpt-4.1-mini": (39_936, 0)}).model == "openai/gpt-4.1-nano"
    nano_session = _state(model="openai/gpt-4.1-nano", tier="standard")
    kept = session_choice(base, pool=POOL, needs=cheap_out, tiers=TIERS, state=nano_session,
                          cache={"openai/gpt-4.1-nano": (39_936, 0)})
    # nano with its cache: 64 x 0.10 + 39936 x 0.025 + 4 = 6.4 + 998.4 + 4 = 1008.8 $/Mtok
    assert kept.model == "openai/gpt-4.1-nano" and kept.est_cost_usd == D("0.0010088")
    assert kept.session is not None and kept.session.kept and kept.session.cached_tokens == 39_936
    assert kept.session.alternative == "openai/gpt-4.1-mini"
    # mini without a cache: 40000 x 0.40 + 10 x 1.60 = 16016
    assert kept.session.alternative_cost_usd == D("0.016016")
    assert kept.session.note == ("kept for session cache: openai/gpt-4.1-nano at $0.0010088 with 39936 cached "
                                 "prompt tokens vs $0.016016 for openai/gpt-4.1-mini (no cache there)")


def test_a_cache_keeps_a_dearer_model() -> None:
    needs = RequestNeeds(input_tokens=40_000, output_tokens=10)
    base = _route(0.4, needs)
    state = _state(model="openai/gpt-4.1-mini", tier="standard")
    # mini with 39990 cached: 10 x 0.40 + 39990 x 0.10 + 16 = 4 + 3999 + 16 = 4019 > nano's 4004: moved
    assert session_choice(base, pool=POOL, needs=needs, tiers=TIERS, state=state,
                          cache={"openai/gpt-4.1-mini": (39_990, 0)}).model == "openai/gpt-4.1-nano"
    cheaper_mini = PriceSheet("openai/gpt-4.1-mini", D("0.40"), D("1.60"), cached_input_per_mtok=D("0.05"))
    pool = (POOL[0], Candidate("openai/gpt-4.1-mini", 0.7, "openai", cheaper_mini), POOL[2])
    # at 0.05 cached: 4 + 1999.5 + 16 = 2019.5 < 4004: kept, though routing alone picks nano
    kept = session_choice(base, pool=pool, needs=needs, tiers=TIERS, state=state,
                          cache={"openai/gpt-4.1-mini": (39_990, 0)})
    assert kept.model == "openai/gpt-4.1-mini" and kept.est_cost_usd == D("0.0020195")
    assert kept.candidates[0].model == "openai/gpt-4.1-mini"
    assert kept.fallbacks[0] == "openai/gpt-4.1-nano"


def test_the_tier_never_drops_mid_session_unless_allowed() -> None:
    easy = _route(0.1)
    assert easy.tier == "economy" and easy.model == "openai/gpt-4.1-nano"
    premium = _state(model="anthropic/claude-sonnet-4-5", tier="premium", tokens=0, count=0)
    held = session_choice(easy, pool=POOL, needs=NEEDS, tiers=TIERS, state=premium, cache={})
    assert held.model == "anthropic/claude-sonnet-4-5" and held.tier == "premium"
    assert held.session is not None and "tier premium kept" in held.session.note
    rejected = {c.model: c.rejected for c in held.candidates}
    assert rejected["openai/gpt-4.1-nano"] == "quality 0.62 < 0.80 of the session's tier premium"
    dropped = session_choice(easy, pool=POOL, needs=NEEDS, tiers=TIERS, state=premium, cache={},
                             allow_tier_drop=True)
    assert dropped.model == "openai/gpt-4.1-nano" and dropped.tier == "economy"


def test_a_rising_tier_moves_the_session() -> None:
    hard = _route(0.9)
    assert hard.tier == "premium"
    state = _state(model="openai/gpt-4.1-mini", tier="standard")
    moved = session_choice(hard, pool=POOL, needs=NEEDS, tiers=TIERS, state=state,
                           cache={"openai/gpt-4.1-mini": (2048, 0)})
    assert moved.model == "anthropic/claude-sonnet-4-5" and moved.tier == "premium"
    assert moved.session is not None
    assert moved.session.note.startswith("moved from openai/gpt-4.1-mini to anthropic/claude-sonnet-4-5: "
                                         "openai/gpt-4.1-mini cannot serve tier premium")
