"""The README's examples run as written, against a mocked OpenAI endpoint."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import respx

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_config_and_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [config] = [b for b in _blocks("yaml") if "models:" in b]
    (tmp_path / "costroute.yaml").write_text(config)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-readme-example")
    monkeypatch.setenv("COSTROUTE_HOME", str(tmp_path / "home"))
    reply = {
        "id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Paris."}}],
        "usage": {"prompt_tokens": 14, "completion_tokens": 2, "total_tokens": 16},
    }
    sse = ('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
           '[{"index":0,"delta":{"content":"Ha"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')

    def answer(request: httpx.Request) -> httpx.Response:
        if b'"stream":true' in request.content.replace(b" ", b""):
            return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=reply)

    blocks = _blocks("python")
    assert len(blocks) >= 2
    with respx.mock:
        route = respx.post("https://api.openai.com/v1/chat/completions").mock(side_effect=answer)
        for block in blocks:
            exec(compile(block, str(README), "exec"), {"__name__": "readme"})
        assert route.call_count == 3
