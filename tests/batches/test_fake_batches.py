"""The fake's Files + Batches endpoints, through costroute's own wire client."""

from __future__ import annotations

import json

import pytest

from costroute import BatchError
from costroute.batches._wire import OpenAIBatchAPI
from costroute.testing import FakeOpenAIServer, Reply


def _jsonl(ids: list[str]) -> bytes:
    return "".join(json.dumps({"custom_id": c, "method": "POST", "url": "/v1/chat/completions",
                               "body": {"model": "m", "messages": [{"role": "user", "content": c}]}}) + "\n"
                   for c in ids).encode()


def test_completes_after_polls_with_failures_and_counts() -> None:
    with FakeOpenAIServer() as server:
        server.script("m", answer=Reply("ok", prompt_tokens=11, completion_tokens=2))
        server.batches.configure(complete_after_polls=3, fail_ids={"b"})
        api = OpenAIBatchAPI(server.base_url, "sk-x")
        job = api.create(api.upload(_jsonl(["a", "b", "c"])), window="24h", metadata={})
        assert [api.retrieve(job["id"])["status"] for _ in range(2)] == ["in_progress", "in_progress"]
        done = api.retrieve(job["id"])
        assert done["status"] == "completed" and done["request_counts"] == {"total": 3, "completed": 2, "failed": 1}
        out = api.content(done["output_file_id"])
        assert [o["custom_id"] for o in out] == ["a", "c"]
        assert out[0]["response"]["body"]["usage"] == {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}
        assert [e["custom_id"] for e in api.content(done["error_file_id"])] == ["b"]
        assert len(server.batches.uploads) == 3 and server.calls == []  # batch items are not chat calls


def test_expiry_and_cancel() -> None:
    with FakeOpenAIServer() as server:
        server.batches.configure(expire_after_items=1)
        api = OpenAIBatchAPI(server.base_url, "sk-x")
        job = api.retrieve(api.create(api.upload(_jsonl(["a", "b"])), window="24h", metadata={})["id"])
        assert job["status"] == "expired"
        assert api.content(job["error_file_id"])[0]["error"]["code"] == "batch_expired"
        server.batches.configure(complete_after_polls=100)
        job = api.create(api.upload(_jsonl(["a"])), window="24h", metadata={})
        assert api.cancel(job["id"])["status"] == "cancelled"
        assert api.retrieve(job["id"])["output_file_id"] is None


def test_errors_name_the_operation_and_hide_the_key() -> None:
    with FakeOpenAIServer() as server:
        api = OpenAIBatchAPI(server.base_url, "sk-hidden-key")
        with pytest.raises(BatchError, match="retrieve the batch") as info:
            api.retrieve("batch_nope")
        assert info.value.status_code == 404 and "sk-hidden-key" not in repr(info.value) + str(info.value)
