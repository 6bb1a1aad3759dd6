"""Reading outcome files: unknown keys ignored, bad rows named by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from costroute import ConfigError
from costroute.evaluation import Outcome, auto_pair, common_models, load_outcomes, parse_outcome

from .conftest import MID, STRONG, WEAK, outcome_rows, write_jsonl


def test_loads_and_ignores_unknown_keys(outcome_file: Path) -> None:
    outcomes = load_outcomes(outcome_file)
    assert len(outcomes) == 40
    first = outcomes[0]
    assert first.id == "row-0"
    assert first.group == "hard"
    assert first.source == "test/synthetic"
    assert first.messages == [{"role": "user", "content": first.text}]
    assert common_models(outcomes) == sorted([STRONG, MID, WEAK])


def test_messages_prompt_and_defaults(tmp_path: Path) -> None:
    row = {
        "prompt": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "scores": {"a": 1, "b": 0.5},
        "subject": "greetings",
    }
    path = tmp_path / "conv.jsonl"
    path.write_text("\n" + json.dumps(row) + "\n\n", encoding="utf-8")
    (o,) = load_outcomes(path)
    assert o.id == "conv-2"
    assert o.group == "greetings"
    assert o.text == "be brief\nhi"
    assert len(o.messages) == 2
    assert o.costs_usd == {}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"scores": {"a": 1}}', "`prompt` is missing"),
        ('{"prompt": "x", "scores": {}}', "`scores` must be a non-empty object"),
        ('{"prompt": "x", "scores": {"a": 1.5}}', "`scores.a` must be in [0, 1]"),
        ('{"prompt": "x", "scores": {"a": true}}', "`scores.a` must be a finite number"),
        ('{"prompt": "x", "scores": {"a": 1}, "costs_usd": {"a": -1}}', "`costs_usd.a` must be"),
        ('{"prompt": [1], "scores": {"a": 1}}', "message objects"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", outcome_rows(2))
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    with pytest.raises(ConfigError) as info:
        load_outcomes(path)
    assert f"{path}:3:" in str(info.value)
    assert message in str(info.value)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read outcome file"):
        load_outcomes(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no outcomes"):
        load_outcomes(empty)


def test_auto_pair(outcome_file: Path) -> None:
    outcomes = load_outcomes(outcome_file)
    # strong: best mean (1.0); weak: the worst reaching 75 % of it: mid (0.75), not small (0.5)
    assert auto_pair(outcomes) == (STRONG, MID)
    with pytest.raises(ConfigError):
        auto_pair([Outcome(id="x", prompt="p", scores={"a": 1.0})])


def test_task_and_responses_are_read_and_checked() -> None:
    row = {"prompt": "Q", "scores": {"a": 1.0}, "task": "arc", "responses": {"a": "B"}}
    outcome = parse_outcome(row, "f:1")
    assert (outcome.task, dict(outcome.responses)) == ("arc", {"a": "B"})
    assert parse_outcome({"prompt": "Q", "scores": {"a": 1.0}}, "f:2").responses == {}
    with pytest.raises(ConfigError, match="f:3: `responses` must be an object"):
        parse_outcome({"prompt": "Q", "scores": {"a": 1.0}, "responses": {"a": 3}}, "f:3")
