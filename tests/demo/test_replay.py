"""The replay through the real client: what it prints is what the ledger holds, and quality comes
from the recorded scores of the models the client actually chose."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from costroute.demo import SETTINGS, Answered, DemoReport, Sample, recorded_answer, summarize
from costroute.pricing import PriceRegistry
from costroute.spend import MemoryLedger, SummaryRow
from costroute.testing import FakeOpenAIServer

from .conftest import QUESTIONS

Replay = tuple[DemoReport, MemoryLedger, FakeOpenAIServer]


def test_every_setting_sent_every_question_once_and_the_ledger_holds_each(replay: Replay) -> None:
    report, ledger, fake = replay
    records = ledger.records(tags={"source": "demo", "run": "t35t"})
    assert len(records) == len(fake.calls) == QUESTIONS * len(SETTINGS)
    assert {(r.status, r.attempt) for r in records} == {("ok", 1)}
    for setting in report.settings:
        mine = [r for r in records if r.policy == setting.name]
        assert len(mine) == setting.requests == QUESTIONS
        assert len({r.prompt_text for r in mine}) == QUESTIONS
        assert Counter(r.model for r in mine) == Counter(setting.routed)


def test_printed_money_is_the_ledgers(replay: Replay) -> None:
    report, ledger, _ = replay
    for setting in report.settings:
        mine = ledger.records(tags={"run": "t35t"}, policy=setting.name)
        assert setting.spend_usd == sum((r.cost_usd for r in mine), Decimal(0)) > 0
        assert setting.baseline_usd == sum((r.baseline_cost_usd for r in mine), Decimal(0))
        assert setting.saved_usd == sum((r.saved_usd for r in mine), Decimal(0))
    data = report.to_dict()
    assert [Decimal(s["spend_usd"]) for s in data["settings"]] == [s.spend_usd for s in report.settings]
    # the baseline alone, priced as the ledger prices it, is the ledger's baseline
    [alone] = [m for m in report.singles if m.model == report.baseline]
    assert alone.cost_usd == report.settings[0].baseline_usd and alone.savings_pct == 0.0


def test_quality_is_the_recorded_score_of_the_model_that_answered(replay: Replay, sample: Sample) -> None:
    """Recomputed from the ledger (which model served which prompt) and the sample alone."""
    report, ledger, fake = replay
    scores = {r.prompt: r.scores for r in sample.rows}
    for setting in report.settings:
        mine = ledger.records(tags={"run": "t35t"}, policy=setting.name)
        quality = sum(scores[r.prompt_text or ""][r.model] for r in mine) / len(mine)
        baseline = sum(scores[r.prompt_text or ""][sample.baseline] for r in mine) / len(mine)
        assert setting.quality == pytest.approx(quality) and setting.baseline_quality == pytest.approx(baseline)
        assert setting.quality_kept == pytest.approx(100 * quality / baseline)
    # the fake served each model's recorded answer under the name litellm sends
    wire = {m.name.split("/", 1)[1]: m for m in sample.models}
    assert {c["model"] for c in fake.calls} <= set(wire)


def test_recorded_answers_say_what_was_recorded(sample: Sample) -> None:
    row = sample.rows[0]
    for model in sample.models:
        text = recorded_answer(row, model)
        assert row.id in text and model.label in text
        assert ("correct" in text) == bool(row.scores[model.name])


def _answered(setting: str, row_id: str, model: str, score: float) -> Answered:
    return Answered(setting, row_id, model, "premium", 0.5, score, f"req-{setting}-{row_id}")


def test_summarize_is_exact_on_known_answers(sample: Sample) -> None:
    rows = sample.rows[:4]
    cheap, strong = (m.name for m in sample.models)
    picks = [strong, cheap, cheap, strong]
    answers = [_answered("default", r.id, m, r.scores[m]) for r, m in zip(rows, picks, strict=True)]
    totals = {"default": SummaryRow(group={"policy": "default"}, requests=4, cost_usd=Decimal("0.003000"),
                                    baseline_cost_usd=Decimal("0.004000"))}
    registry = PriceRegistry.default(plugins=False)
    sheets = {m.name: registry.find(m.name) for m in sample.models}
    report = summarize(answers, totals, sample=sample, rows=rows, settings=[s for s in SETTINGS if s.name == "default"],
                       sheets=sheets, run_id="x")
    [result] = report.settings
    assert result.routed == {cheap: 2, strong: 2} and result.share(strong) == 0.5
    assert result.quality == pytest.approx(sum(r.scores[m] for r, m in zip(rows, picks, strict=True)) / 4)
    assert result.baseline_quality == pytest.approx(sum(r.scores[strong] for r in rows) / 4)
    expected_random = 0.5 * sum(r.scores[cheap] for r in rows) / 4 + 0.5 * sum(r.scores[strong] for r in rows) / 4
    assert result.random_quality == pytest.approx(expected_random)
    assert result.saved_usd == Decimal("0.001000") and result.savings_pct == pytest.approx(25.0)
    assert result.thresholds["premium"] == 0.65
