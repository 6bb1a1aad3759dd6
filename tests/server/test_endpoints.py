"""/metrics, /v1/costroute/route and /v1/costroute/spend."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from costroute.testing import FakeOpenAIServer

from .conftest import ADS_KEY, EASY, TEAM_KEY, UPSTREAM_KEY, pool

CHAT = "/v1/chat/completions"


@pytest.fixture()
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:  # the first request imports litellm
        yield client

def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_requests_spend_savings_hits_and_budgets(serve, fake: FakeOpenAIServer,
                                                               http: httpx.Client) -> None:
    running = serve(pool(fake, budgets=[{"name": "monthly", "limit_usd": "5"}], budget_store={"backend": "memory"}))
    url = running.url
    for _ in range(2):
        assert http.post(url + CHAT, json={"messages": EASY, "temperature": 0}).status_code == 200
    assert http.post(url + CHAT, json={"messages": EASY, "model": "nope"}).status_code == 400
    text = http.get(url + "/metrics").text
    got = _samples(text)
    [record, hit] = running.ledger.records()
    model = (("model", "openai/cheap-model"),)
    assert got[("costroute_requests_total", (*model, ("policy", "default"), ("status", "ok")))] == 2
    refused = (("model", "none"), ("policy", "none"), ("status", "model_not_found"))
    assert got[("costroute_requests_total", refused)] == 1
    assert abs(got[("costroute_spend_usd_total", model)] - float(record.cost_usd)) < 1e-12
    assert abs(got[("costroute_saved_usd_total", ())] - float(record.saved_usd + hit.saved_usd)) < 1e-12
    assert got[("costroute_cache_hits_total", ())] == 1
    assert got[("costroute_upstream_latency_seconds_count", ())] == 1  # the hit waited for no provider
    assert got[("costroute_overhead_seconds_count", ())] == 3
    assert got[("costroute_in_flight_requests", ())] == 0
    remaining = got[("costroute_budget_remaining_usd", (("budget", "monthly"), ("scope", "global")))]
    assert abs(remaining - float(Decimal(5) - record.cost_usd)) < 1e-9
    assert UPSTREAM_KEY not in text and "capital of France" not in text


def test_each_app_has_its_own_registry(serve, fake: FakeOpenAIServer, http: httpx.Client) -> None:
    first, second = serve(), serve()
    http.post(first.url + CHAT, json={"messages": EASY})
    assert "costroute_requests_total{" in http.get(first.url + "/metrics").text
    assert "costroute_requests_total{" not in http.get(second.url + "/metrics").text


def test_route_explains_and_calls_nothing(serve, fake: FakeOpenAIServer, http: httpx.Client) -> None:
    running = serve()
    got = http.post(running.url + "/v1/costroute/route", json={"messages": EASY, "model": "auto"}).json()
    assert got["model"] == "openai/cheap-model" and got["tier"] == "economy" and got["policy"] == "default"
    assert [c["model"] for c in got["candidates"]] == ["openai/cheap-model", "openai/strong-model"]
    pinned = http.post(running.url + "/v1/costroute/route", json={"messages": EASY, "model": "strong-model"}).json()
    assert pinned["model"] == "openai/strong-model" and pinned["pinned"] is True
    bad = http.post(running.url + "/v1/costroute/route", json={"messages": "hi"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "messages"
    assert not fake.calls and not running.ledger.records()


def test_spend_summary_needs_a_key_and_shows_only_its_own(serve, fake: FakeOpenAIServer, http: httpx.Client) -> None:
    running = serve(pool(fake, server={"keys": [{"key": TEAM_KEY, "tags": {"team": "search"}},
                                                {"key": ADS_KEY, "tags": {"team": "ads"}}]}))
    url = running.url
    for key, text in ((TEAM_KEY, "one"), (TEAM_KEY, "two"), (ADS_KEY, "three")):
        reply = http.post(url + CHAT, json={"messages": [{"role": "user", "content": text}]},
                           headers={"authorization": f"Bearer {key}"})
        assert reply.status_code == 200
    assert http.get(url + "/v1/costroute/spend").status_code == 401
    team = http.get(url + "/v1/costroute/spend?group_by=model&since=7d",
                     headers={"authorization": f"Bearer {TEAM_KEY}"}).json()
    [row] = team["data"]
    team_records = [r for r in running.ledger.records() if r.tags == {"team": "search"}]
    assert row["model"] == "openai/cheap-model" and row["requests"] == 2
    assert Decimal(row["cost_usd"]) == sum(r.cost_usd for r in team_records)
    bad = http.get(url + "/v1/costroute/spend?since=yesterday-ish", headers={"authorization": f"Bearer {ADS_KEY}"})
    assert bad.status_code == 400
    assert http.get(url + "/v1/costroute/spend?group_by=colour",
                     headers={"authorization": f"Bearer {ADS_KEY}"}).status_code == 400


def test_the_dashboard_is_served_with_the_ledgers_numbers(serve, fake: FakeOpenAIServer, http: httpx.Client) -> None:
    admin = "admin-key-0123456789abcdef"
    running = serve(pool(fake, server={"keys": [{"key": admin}, {"key": TEAM_KEY, "tags": {"team": "search"}}]}))
    url = running.url
    team = {"authorization": f"Bearer {TEAM_KEY}"}
    assert http.post(url + CHAT, json={"messages": EASY}, headers=team).status_code == 200
    assert http.get(url + "/dashboard").status_code == 401
    assert http.get(url + "/dashboard", headers=team).status_code == 403  # a team's key sees only its own
    page = http.get(url + "/dashboard", headers={"authorization": f"Bearer {admin}"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    [record] = running.ledger.records()
    assert f'id="total-spend">${record.cost_usd:,.6f}<' in page.text
    assert "<svg" in page.text and "<script" not in page.text and UPSTREAM_KEY not in page.text
    assert http.get(url + "/dashboard?days=0", headers={"authorization": f"Bearer {admin}"}).status_code == 400
