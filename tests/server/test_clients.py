"""Clients other than the Python SDK (curl's raw SSE, the ``openai`` npm package from Node), and a
sentinel upstream key that must appear nowhere a caller or an operator can see."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import openai
import pytest

from costroute.testing import FakeOpenAIServer

from .conftest import ANSWER, EASY, TEAM_KEY, UPSTREAM_KEY, pool


def _tool(name: str) -> str:
    """The tool's path; a missing tool skips the test on a developer's machine and fails it in CI."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI (.ci installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def test_curl_sees_raw_server_sent_events(serve, fake: FakeOpenAIServer) -> None:
    curl = _tool("curl")
    fake.script("cheap-model", answer=ANSWER)
    running = serve()
    body = json.dumps({"model": "auto", "messages": EASY, "stream": True, "stream_options": {"include_usage": True}})
    out = subprocess.run([curl, "-sS", "-N", "-D", "-", "-X", "POST", running.url + "/v1/chat/completions",
                          "-H", "content-type: application/json", "-d", body],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    head, _, events = out.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200") and "content-type: text/event-stream" in head.lower()
    assert "x-costroute-request-id: cr-" in head.lower()
    blocks = [b for b in events.split("\n\n") if b]
    assert blocks[-1] == "data: [DONE]"
    data = [json.loads(b[6:]) for b in blocks if b.startswith("data: {")]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in data if c["choices"])
    assert text.strip() == ANSWER
    assert data[-1]["choices"] == [] and data[-1]["usage"]["completion_tokens"] == len(ANSWER.split())
    [record] = running.ledger.records()
    assert data[-1]["costroute"]["request_id"] == record.request_id


NODE_SCRIPT = """
import OpenAI from "openai";
const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.KEY, maxRetries: 0 });
const out = {};
const plain = await client.chat.completions.create({
  model: "auto", messages: [{ role: "user", content: "Hi from Node" }],
});
out.plain = plain.choices[0].message.content;
out.facts = plain.costroute;
const stream = await client.chat.completions.create({
  model: "cheap", stream: true, messages: [{ role: "user", content: "Stream from Node" }],
});
out.streamed = "";
for await (const chunk of stream) out.streamed += chunk.choices[0]?.delta?.content ?? "";
try {
  await new OpenAI({ baseURL: process.env.BASE_URL, apiKey: "wrong-key-123", maxRetries: 0 })
    .chat.completions.create({ model: "auto", messages: [{ role: "user", content: "x" }] });
} catch (err) {
  out.error = { name: err.constructor.name, status: err.status, code: err.code };
}
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="session")
def node_openai(tmp_path_factory: pytest.TempPathFactory) -> Path:
    npm = _tool("npm")
    _tool("node")
    where = tmp_path_factory.mktemp("node-openai")
    (where / "package.json").write_text('{"name": "costroute-node-check", "private": true, "type": "module"}')
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "openai@^4"], cwd=where,
                   check=True, timeout=300, capture_output=True)
    return where


def test_node_openai_package_talks_to_the_server(serve, fake: FakeOpenAIServer, node_openai: Path) -> None:
    fake.script("cheap-model", answer=ANSWER)
    running = serve(pool(fake, server={"keys": [{"key": TEAM_KEY, "tags": {"team": "node"}}]}))
    (node_openai / "check.mjs").write_text(NODE_SCRIPT)
    out = subprocess.run([shutil.which("node") or "node", "check.mjs"], cwd=node_openai, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "BASE_URL": running.url + "/v1", "KEY": TEAM_KEY})
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["plain"] == ANSWER and got["streamed"].strip() == ANSWER
    assert got["error"] == {"name": "AuthenticationError", "status": 401, "code": "invalid_api_key"}
    records = running.ledger.records()
    assert [r.tags for r in records] == [{"team": "node"}] * 2
    assert got["facts"]["request_id"] == records[0].request_id


def test_sentinel_upstream_key_appears_nowhere(serve, fake: FakeOpenAIServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = pool(fake, server={"keys": [{"key": TEAM_KEY}]})
    config["policies"]["cheap"]["retry"] = {"attempts_per_model": 1, "max_attempts": 1, "backoff_s": 0}
    config["models"][0]["timeout_s"] = 0.5
    running = serve(config)
    seen: list[str] = []
    auth = {"authorization": f"Bearer {TEAM_KEY}"}

    def keep(resp: httpx.Response) -> None:
        seen.append(json.dumps(dict(resp.headers)) + resp.text)

    with httpx.Client(base_url=running.url, timeout=60) as http:
        chat = "/v1/chat/completions"
        keep(http.post(chat, json={"model": "auto", "messages": EASY}, headers=auth))
        keep(http.post(chat, json={"model": "cheap", "messages": EASY, "stream": True}, headers=auth))
        for failure in (401, 403, 429, 500, 400):
            fake.script("cheap-model", failures=[failure])
            keep(http.post(chat, json={"model": "cheap", "messages": [{"role": "user", "content": f"f{failure}"}]},
                           headers=auth))
        fake.script("cheap-model", latency_s=1.5)
        keep(http.post(chat, json={"model": "cheap", "messages": [{"role": "user", "content": "slow"}]},
                       headers=auth))
        fake.script("cheap-model", answer=ANSWER, cut_stream_after=2)
        keep(http.post(chat, json={"model": "cheap", "stream": True,
                                   "messages": [{"role": "user", "content": "cut"}]}, headers=auth))
        keep(http.post(chat, json={"messages": EASY}, headers={"authorization": f"Bearer {UPSTREAM_KEY}"}))
        keep(http.post(chat, json={"messages": EASY, "frobnicate": UPSTREAM_KEY}, headers=auth))
        for path in ("/v1/models", "/v1/costroute/spend?group_by=model", "/metrics", "/readyz", "/healthz"):
            keep(http.get(path, headers=auth))
        keep(http.post("/v1/costroute/route", json={"messages": EASY}, headers=auth))
    assert len(seen) == 17
    assert any(h.get("authorization") == f"Bearer {UPSTREAM_KEY}" for h in fake.headers)  # it was used upstream
    everything = "\n".join(seen) + "\n" + caplog.text + "\n" + "\n".join(repr(r.__dict__) for r in caplog.records)
    assert UPSTREAM_KEY not in everything
    assert TEAM_KEY not in everything
    ours = [r for r in caplog.records if r.name.startswith(("costroute", "uvicorn"))]
    assert ours  # the server logged its refusals
    assert not any(r.exc_info or "Traceback" in r.getMessage() for r in ours)
    assert not any("capital of France" in r.getMessage() for r in ours)  # no prompt text either
    assert not any("Traceback" in s for s in seen)


def test_openai_sdk_error_for_a_sentinel_body_field_names_it_without_echoing_it(serve) -> None:
    running = serve()
    with openai.OpenAI(base_url=running.url + "/v1", api_key="x", max_retries=0) as sdk, \
            pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="auto", messages=EASY, extra_body={"frobnicate": UPSTREAM_KEY})
    assert "frobnicate" in caught.value.message and UPSTREAM_KEY not in json.dumps(caught.value.body)
