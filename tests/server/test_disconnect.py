"""A client that hangs up mid-stream: the stream is closed, its hold released, its record estimated."""

from __future__ import annotations

import time

import httpx

from costroute.testing import FakeOpenAIServer

from .conftest import ANSWER, EASY, pool


def _wait(check, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def test_hanging_up_mid_stream_releases_the_hold_and_books_an_estimate(serve, fake: FakeOpenAIServer) -> None:
    fake.script("cheap-model", answer=" ".join([ANSWER] * 8), chunk_delay_s=0.05)  # ~40 events, 2 s
    running = serve(pool(fake, budgets=[{"name": "monthly", "limit_usd": "5"}], budget_store={"backend": "memory"}))
    with httpx.Client(timeout=60) as http, http.stream(
            "POST", running.url + "/v1/chat/completions", json={"messages": EASY, "stream": True}) as resp:
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if '"content": "' in line and '"content": ""' not in line:
                break  # one chunk of text read: hang up
    _wait(lambda: len(running.ledger.records()) == 1)
    [record] = running.ledger.records()
    assert record.status == "cancelled" and record.estimated and record.cost_usd > 0
    assert 0 < record.output_tokens < len(" ".join([ANSWER] * 8).split())
    [state] = running.state.client.budgets.snapshot()
    assert state.reserved == 0 and state.spent == record.cost_usd
    _wait(lambda: not running.state.tasks)
    assert running.state.metrics.in_flight._value.get() == 0


def test_a_stream_the_provider_cuts_ends_with_an_error_event_and_is_booked(serve, fake: FakeOpenAIServer) -> None:
    import openai

    fake.script("cheap-model", answer=ANSWER, cut_stream_after=2)
    running = serve()
    with openai.OpenAI(base_url=running.url + "/v1", api_key="x", max_retries=0) as sdk:
        stream = sdk.chat.completions.create(model="auto", messages=EASY, stream=True)
        got = []
        try:
            for chunk in stream:
                got.append(chunk)
        except openai.APIError as exc:
            error = exc
    assert got and error.code == "upstream_error"
    _wait(lambda: len(running.ledger.records()) == 1)
    [record] = running.ledger.records()
    assert record.status == "error" and record.estimated and record.cost_usd > 0
    _wait(lambda: not running.state.tasks)
    assert running.state.metrics.in_flight._value.get() == 0
