"""Every ```python block of the docs runs, page by page in one namespace, against a mocked OpenAI
endpoint (```py blocks are shown, not run). ```yaml blocks titled ``costroute.yaml`` are written
to the working directory first, so the examples read the configuration the page shows."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import respx

DOCS = Path(__file__).resolve().parents[2] / "docs"
_FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", flags=re.S | re.M)
PAGES = sorted(p.name for p in DOCS.glob("*.md") if re.search(r"^```python\n", p.read_text(), flags=re.M))

_REPLY = {
    "id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Paris."}}],
    "usage": {"prompt_tokens": 14, "completion_tokens": 2, "total_tokens": 16},
}


def _blocks(page: str) -> tuple[dict[str, str], list[str]]:
    files, code = {}, []
    for lang, info, body in _FENCE.findall((DOCS / page).read_text(encoding="utf-8")):
        title = re.search(r'title="([^"]+)"', info)
        if lang == "yaml" and title:
            files[title.group(1)] = body
        elif lang == "python":
            code.append(body)
    return files, code


def test_some_pages_have_examples() -> None:
    assert {"quickstart.md", "concepts.md", "migration.md"} <= set(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files, code = _blocks(page)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-docs-example-0000")
    monkeypatch.setenv("COSTROUTE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm must never fetch its price map
    monkeypatch.delenv("COSTROUTE_CONFIG", raising=False)
    namespace: dict[str, object] = {"__name__": "docs"}
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post("https://api.openai.com/v1/chat/completions").mock(
            return_value=httpx.Response(200, json=_REPLY))
        for block in code:
            exec(compile(block, f"{DOCS / page}", "exec"), namespace)
    calls_expected = sum(b.count(".create(") for b in code)
    assert route.call_count == calls_expected, (route.call_count, calls_expected)
