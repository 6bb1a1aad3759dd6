"""ShadowSampler: deterministic per request id, the configured rate, the daily cap."""

from __future__ import annotations

from decimal import Decimal

import pytest

from costroute.learning import ShadowSampler


def test_the_same_id_gets_the_same_decision_in_every_sampler() -> None:
    a, b = ShadowSampler(0.3), ShadowSampler(0.3)
    ids = [f"cr-{i:04x}" for i in range(500)]
    assert [a.sampled(i) for i in ids] == [b.sampled(i) for i in ids]
    assert a.draw("cr-1") == b.draw("cr-1")
    assert 0.0 <= a.draw("cr-1") < 1.0


def test_the_share_sampled_matches_the_rate() -> None:
    sampler = ShadowSampler(0.02)
    n = 20_000
    share = sum(sampler.sampled(f"cr-{i}") for i in range(n)) / n
    assert abs(share - 0.02) < 0.005  # binomial sd 0.001
    assert not any(ShadowSampler(0.0).sampled(f"cr-{i}") for i in range(1000))
    assert all(ShadowSampler(1.0).sampled(f"cr-{i}") for i in range(1000))


def test_a_higher_rate_keeps_every_request_a_lower_rate_sampled() -> None:
    low, high = ShadowSampler(0.1), ShadowSampler(0.4)
    ids = [f"req-{i}" for i in range(2000)]
    assert {i for i in ids if low.sampled(i)} <= {i for i in ids if high.sampled(i)}


def test_keys_choose_different_requests() -> None:
    ids = [f"req-{i}" for i in range(2000)]
    one = {i for i in ids if ShadowSampler(0.2, key="policy-a").sampled(i)}
    two = {i for i in ids if ShadowSampler(0.2, key="policy-b").sampled(i)}
    assert one != two


def test_the_daily_cap_stops_sampling() -> None:
    sampler = ShadowSampler(1.0, max_usd_per_day=Decimal("5"))
    assert sampler.decide("r", spent_today_usd=Decimal("4.90"), est_cost_usd=Decimal("0.05")).sample
    refused = sampler.decide("r", spent_today_usd=Decimal("4.99"), est_cost_usd=Decimal("0.05"))
    assert (refused.sample, refused.reason) == (False, "daily budget reached")
    assert ShadowSampler(0.0).decide("r").reason == "not sampled"
    assert ShadowSampler(1.0).decide("r", spent_today_usd=Decimal("1e9")).sample  # no cap


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_bad_rates_are_refused(rate: float) -> None:
    with pytest.raises(ValueError):
        ShadowSampler(rate)
    with pytest.raises(ValueError):
        ShadowSampler(0.1, max_usd_per_day=Decimal("-1"))
