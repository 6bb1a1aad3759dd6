"""Replaying cached responses as chunks, and rebuilding responses from live streams."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from costroute.cache import CacheEntry, StreamAccumulator, replay_chunks

from .conftest import make_entry, make_response


def _entry_for(response: dict[str, Any]) -> CacheEntry:
    return CacheEntry.create(
        key="cr1:s", namespace="", model=response["model"], model_quality=0.5,
        response=response, usage=response["usage"], cost_usd="0", created_at=1.0,
        expires_at=None, finish_reason=response["choices"][0]["finish_reason"],
    )  # fmt: skip


def _accumulate(chunks: list[dict[str, Any]], expected: int = 1) -> StreamAccumulator:
    acc = StreamAccumulator(expected_choices=expected)
    for chunk in chunks:
        acc.feed(chunk)
    return acc


def test_replay_shape() -> None:
    entry = make_entry(text="The quick brown fox jumps over the lazy dog")
    chunks = replay_chunks(entry)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks[1:-2]]
    assert 2 <= len(pieces) <= 4
    assert "".join(p for p in pieces if p) == "The quick brown fox jumps over the lazy dog"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 13


def test_replay_round_trips_through_the_accumulator() -> None:
    entry = make_entry(text="hello")
    acc = _accumulate(replay_chunks(entry))
    assert acc.complete and acc.finish_reason == "stop"
    assert acc.response() == entry.response


def test_tool_calls_and_several_choices_round_trip() -> None:
    response = make_response("")
    response["choices"] = [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                    {"id": "call_2", "type": "function",
                     "function": {"name": "get_time", "arguments": "{}"}},
                ],
            },
            "finish_reason": "tool_calls",
        },
        {"index": 1, "message": {"role": "assistant", "content": "second"},
         "finish_reason": "stop"},
    ]  # fmt: skip
    acc = _accumulate(replay_chunks(_entry_for(response)), expected=2)
    assert acc.response() == response


def test_accumulator_merges_streamed_tool_call_fragments() -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "c", "model": "m", "created": 1,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip

    acc = StreamAccumulator()
    acc.feed(chunk({"role": "assistant"}))
    acc.feed(chunk({"tool_calls": [{"index": 0, "id": "call_9", "type": "function",
                                    "function": {"name": "f", "arguments": '{"a"'}}]}))  # fmt: skip
    acc.feed(chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}))
    acc.feed(chunk({}, "tool_calls"))
    assert not acc.complete and acc.response() is None  # no usage yet
    acc.feed({"id": "c", "choices": [], "usage": {"total_tokens": 5}})
    response = acc.response()
    assert response is not None
    call = response["choices"][0]["message"]["tool_calls"][0]
    assert call == {"id": "call_9", "type": "function",
                    "function": {"name": "f", "arguments": '{"a": 1}'}}  # fmt: skip


def test_accumulator_takes_objects_with_model_dump() -> None:
    class Chunk:
        def __init__(self, data: dict[str, Any]) -> None:
            self.data = data

        def model_dump(self) -> dict[str, Any]:
            return self.data

    acc = _accumulate([])
    for chunk in replay_chunks(make_entry()):
        acc.feed(Chunk(chunk))
    assert acc.complete


def test_usage_without_finish_reason_is_incomplete() -> None:
    chunks = [c for c in replay_chunks(make_entry()) if not c["choices"]
              or not c["choices"][0].get("finish_reason")]  # fmt: skip
    acc = _accumulate(chunks)
    assert acc.usage is not None and not acc.complete and acc.response() is None


def test_missing_choice_is_incomplete() -> None:
    acc = _accumulate(replay_chunks(make_entry()), expected=2)
    assert not acc.complete


_texts = st.text(min_size=0, max_size=60)


@settings(max_examples=400)
@given(text=_texts, n=st.integers(1, 3), data=st.data())
def test_property_a_truncated_stream_is_never_storable(
    text: str, n: int, data: st.DataObject
) -> None:
    response = make_response(text)
    response["choices"] = [
        {"index": i, "message": {"role": "assistant", "content": text + str(i)},
         "finish_reason": data.draw(st.sampled_from(["stop", "length"]))}
        for i in range(n)
    ]  # fmt: skip
    chunks = replay_chunks(_entry_for(response))
    assert _accumulate(chunks, expected=n).response() == response  # the whole stream is fine
    cut = data.draw(st.integers(0, len(chunks) - 1))
    truncated = _accumulate(chunks[:cut], expected=n)
    assert not truncated.complete
    assert truncated.response() is None
    # dropping any one chunk that carries a finish_reason or the usage is just as fatal
    vital = [i for i, c in enumerate(chunks)
             if c.get("usage") or any(ch.get("finish_reason") for ch in c["choices"])]  # fmt: skip
    drop = data.draw(st.sampled_from(vital))
    assert _accumulate(chunks[:drop] + chunks[drop + 1 :], expected=n).response() is None


def test_logprobs_survive_a_replay_and_a_stream_store() -> None:
    response = make_response("hi")
    tokens = [{"token": "hi", "logprob": -0.1, "bytes": [104, 105], "top_logprobs": []}]
    response["choices"][0]["logprobs"] = {"content": tokens, "refusal": None}
    acc = _accumulate(replay_chunks(_entry_for(response)))
    rebuilt = acc.response()
    assert rebuilt is not None and rebuilt["choices"][0]["logprobs"]["content"] == tokens


def test_a_tool_call_only_answer_replays_with_null_content() -> None:
    response = make_response("")
    response["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
    first = replay_chunks(_entry_for(response))[0]["choices"][0]["delta"]
    assert first == {"role": "assistant", "content": None}
    assert replay_chunks(make_entry(text="hello"))[0]["choices"][0]["delta"]["content"] == ""
