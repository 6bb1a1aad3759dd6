"""Label merging (app over judge, latest within a source) and traffic outcome rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from costroute.learning import Label, labels_from_feedback, merge_labels, traffic_outcomes

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Rec:
    request_id: str
    model: str
    prompt_text: str | None = "a prompt"
    prompt_hash: str = ""
    status: str = "ok"


def test_app_labels_override_judge_labels_whenever_given() -> None:
    merged = merge_labels(
        [
            Label("r1", 0.0, "app", T0),
            Label("r1", 1.0, "judge", T0 + timedelta(hours=1)),  # later, but the judge's
            Label("r2", 0.5, "judge", T0),
        ]
    )
    assert merged["r1"].score == 0.0 and merged["r1"].source == "app"
    assert merged["r2"].source == "judge"


def test_the_latest_label_of_a_source_wins() -> None:
    merged = merge_labels([Label("r", 0.2, "judge", T0 + timedelta(1)), Label("r", 0.9, "judge", T0)])
    assert merged["r"].score == 0.2
    merged = merge_labels([Label("r", 0.2, "app"), Label("r", 0.9, "app", T0)])
    assert merged["r"].score == 0.9  # a label without a time counts as the oldest
    merged = merge_labels([Label("r", 0.2, "app"), Label("r", 0.7, "app")])
    assert merged["r"].score == 0.7  # equal times: the one given last


def test_bad_labels_are_refused() -> None:
    for bad in (dict(score=1.5), dict(source="user"), dict(request_id="")):
        kwargs = {"request_id": "r", "score": 0.5, "source": "app", **bad}
        with pytest.raises(ValueError):
            Label(**kwargs)  # type: ignore[arg-type]


def test_traffic_outcomes_group_prompts_and_average_per_model() -> None:
    records = [
        Rec("a", "big", prompt_hash="p1"),
        Rec("b", "small", prompt_hash="p1"),
        Rec("c", "small", prompt_hash="p1"),
        Rec("d", "small", prompt_text="other", prompt_hash="p2"),
        Rec("e", "small", prompt_text=None, prompt_hash="p3"),  # prompt not stored
        Rec("f", "small", status="error", prompt_hash="p4"),  # no answer delivered
        Rec("f", "small", status="ok", prompt_hash="p4"),  # the retry answered
    ]
    labels = [
        Label("a", 1.0, "judge"),
        Label("b", 0.0, "judge"),
        Label("c", 1.0, "app"),
        Label("d", 0.5, "app"),
        Label("e", 1.0, "app"),
        Label("f", 0.25, "judge"),
        Label("zzz", 1.0, "app"),  # no record at all
    ]
    out = traffic_outcomes(records, labels)
    rows = {r["id"]: r for r in out.rows}
    assert rows["p1"]["scores"] == {"big": 1.0, "small": 0.5}
    assert rows["p1"]["prompt"] == "a prompt"
    assert rows["p2"]["scores"] == {"small": 0.5}
    assert rows["p4"]["scores"] == {"small": 0.25}
    assert "p3" not in rows
    assert out.labels == 5 and out.by_source == {"app": 2, "judge": 3} and out.unusable == 2


def test_labels_from_feedback_are_app_labels() -> None:
    labels = labels_from_feedback({"r2": 1.0, "r1": 0.0})
    assert [(x.request_id, x.score, x.source) for x in labels] == [("r1", 0.0, "app"), ("r2", 1.0, "app")]
