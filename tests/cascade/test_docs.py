"""docs/cascades.md: its configuration loads and its driving example runs as written."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from costroute.policies import load_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "cascades.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_configuration_example_loads() -> None:
    (example,) = [b for b in _blocks("yaml") if "strategy: cascade" in b]
    config = load_config(yaml.safe_load(example))
    assert config.policies["careful"].strategy == "cascade"


def test_the_driving_example_runs_against_a_fake_send() -> None:
    (example,) = [b for b in _blocks("yaml") if "strategy: cascade" in b]
    (driver,) = [b for b in _blocks("py") if "run.next_calls()" in b]  # shown, not run by tests/docs
    sent: list[str] = []
    reserved: list[Any] = []

    def send(model: str, messages: Any, params: dict[str, Any]) -> SimpleNamespace:
        sent.append(model)
        text = "9" if "temperature" in params else "Paris"  # the judge's call carries temperature 0
        return SimpleNamespace(text=text, logprobs=None, cost_usd=Decimal("0.001"))

    namespace: dict[str, Any] = {
        "config": load_config(yaml.safe_load(example)), "messages": [{"role": "user", "content": "Capital of France?"}],
        "score": 0.2, "params": {}, "reserve": reserved.append, "send": send,
    }
    exec(compile(driver, str(DOC), "exec"), namespace)
    outcome = namespace["outcome"]
    assert outcome.model == "openai/gpt-4o-mini" and outcome.accepted_by == "agreement"
    assert sent == ["openai/gpt-4o-mini", "groq/llama-3.1-8b-instant"] and len(reserved[0]) >= len(sent)
