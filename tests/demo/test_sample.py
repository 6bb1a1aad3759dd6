"""The shipped replay sample: small, credited, self-consistent, and reproducible from its source."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from decimal import Decimal
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

from costroute.demo import Sample, trained_on
from costroute.evaluation import load_outcomes
from costroute.pricing import PriceRegistry
from costroute.router._tokens import count_message_tokens, default_counter

ROOT = Path(__file__).resolve().parents[2]
DATA = resources.files("costroute.demo") / "data"


def test_sample_is_small_and_names_its_sources_and_licences(sample: Sample) -> None:
    size = sum((DATA / name).stat().st_size for name in ("mmlu-sample.jsonl", "mmlu-sample.json"))
    assert size < 200_000
    assert len(sample.rows) >= 200 and len({r.id for r in sample.rows}) == len(sample.rows)
    assert sample.meta["source"]["licence"] == "Apache-2.0" and sample.meta["questions"]["licence"] == "MIT"
    assert "Hendrycks" in sample.meta["questions"]["notice"]
    credit = sample.credit()
    assert "lm-sys/RouteLLM" in credit and "Apache-2.0" in credit and "MMLU" in credit and "MIT" in credit


def test_rows_cover_every_subject_and_both_models(sample: Sample) -> None:
    per_subject = Counter(r.subject for r in sample.rows)
    assert len(per_subject) == 57 and set(per_subject.values()) == {4}
    names = {m.name for m in sample.models}
    assert names == {"openai/gpt-4-1106-preview", "together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1"}
    assert sample.baseline in names
    assert all(set(r.scores) == names and set(r.scores.values()) <= {0.0, 1.0} for r in sample.rows)
    assert sample.models[0].name.startswith("together_ai/")  # cheapest first
    # any prefix mixes subjects (the rows are ordered by hash, not by subject)
    assert len({r.subject for r in sample.rows[:24]}) > 12


def test_usage_is_the_question_in_cl100k_tokens_and_costs_are_list_price(sample: Sample) -> None:
    counter = default_counter("cl100k_base")
    assert getattr(counter, "exact", False)
    registry = PriceRegistry.default(plugins=False)
    raw = [json.loads(line) for line in (DATA / "mmlu-sample.jsonl").read_text(encoding="utf-8").split("\n") if line]
    for row, data in zip(sample.rows[:40], raw, strict=False):
        assert row.prompt_tokens == count_message_tokens(row.messages, counter=counter)
        assert row.completion_tokens == 1
        for model in sample.models:
            price = model.price
            cost = (row.prompt_tokens * Decimal(price["input_per_mtok"])
                    + row.completion_tokens * Decimal(price["output_per_mtok"])) / 1_000_000
            assert data["costs_usd"][model.name] == pytest.approx(float(cost), rel=1e-12)
            sheet = registry.find(model.name)
            assert sheet is not None and str(sheet.input_per_mtok) == price["input_per_mtok"]


def test_sample_reads_as_an_outcome_file_for_costroute_eval(sample: Sample) -> None:
    outcomes = load_outcomes(str(DATA / "mmlu-sample.jsonl"))
    assert [o.id for o in outcomes] == [r.id for r in sample.rows]
    assert all(o.costs_usd for o in outcomes)


def test_trained_on_reads_the_classifier_metadata(sample: Sample) -> None:
    trained = {"sets": [{"name": sample.source_file, "prompts": 14037}, {"name": "other.jsonl"}]}
    assert trained_on(trained, sample) is True
    assert trained_on({**trained, "held_out": [sample.name]}, sample) is False
    assert trained_on({"sets": [{"name": "other.jsonl"}]}, sample) is False
    assert trained_on({}, sample) is None and trained_on(None, sample) is None


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_demo_sample", ROOT / "scripts" / "build_demo_sample.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_build_script_reproduces_the_shipped_sample(tmp_path: Path) -> None:
    script = _build_script()
    data = script._default_data()
    if not (data / script.SOURCE_FILE).is_file():
        pytest.skip(f"the source outcome file is not at {data}")
    rows, meta = script.build(data)
    rows_path, meta_path = script.write(rows, meta, tmp_path)
    assert rows_path.read_bytes() == (DATA / "mmlu-sample.jsonl").read_bytes()
    assert meta_path.read_bytes() == (DATA / "mmlu-sample.json").read_bytes()
