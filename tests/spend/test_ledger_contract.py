"""The contract every Ledger honours: memory, SQLite and PostgreSQL run the same tests."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from costroute.spend import Ledger, SpendRecord, summarize

from .conftest import T0, make_ledger, make_record


def test_is_a_ledger(ledger: Ledger) -> None:
    assert isinstance(ledger, Ledger)


def test_round_trip(ledger: Ledger) -> None:
    rec = make_record(
        1, difficulty=0.25, cache_read_tokens=5, cache_write_tokens=6, reasoning_tokens=7,
        input_per_mtok=Decimal("0.15"), output_per_mtok=Decimal("0.60"), price_source="sheet",
        latency_ms=12.5, error="", estimated=True, status="estimated",
        tags={"user": "bob", "team": "x"},
    )
    ledger.append(rec)
    (back,) = ledger.records()
    assert back == dataclasses.replace(rec, tags={"user": "bob", "team": "x"})
    assert back.ts.tzinfo is not None and back.ts.utcoffset() == timedelta(0)
    assert isinstance(back.cost_usd, Decimal)


def test_money_is_stored_to_the_micro_dollar(ledger: Ledger) -> None:
    ledger.append(make_record(1, cost_usd=Decimal("0.0000015"), saved_usd=Decimal("0.0000025")))
    (back,) = ledger.records()
    assert back.cost_usd == Decimal("0.000002")  # half-even
    assert back.saved_usd == Decimal("0.000002")


def test_prompts_are_not_stored_by_default(ledger: Ledger) -> None:
    ledger.append(make_record(1, prompt_text="secret prompt", prompt_hash="h1"))
    (back,) = ledger.records()
    assert back.prompt_text is None
    assert back.prompt_hash == "h1"


def test_append_is_idempotent_per_attempt(ledger: Ledger) -> None:
    ledger.append(make_record(1))
    ledger.append(make_record(1))
    ledger.append_many([make_record(1), make_record(1, attempt=1), make_record(2)])
    assert [(r.request_id, r.attempt) for r in ledger.records()] == [
        ("req-1", 0), ("req-1", 1), ("req-2", 0)
    ]


def test_filters(ledger: Ledger) -> None:
    ledger.append_many([
        make_record(0, model="a", policy="p1", tags={"user": "alice"}),
        make_record(1, model="b", policy="p1", tags={"user": "bob"}),
        make_record(2, model="a", policy="p2", tags={"user": "bob", "team": "t"}),
        make_record(3, model="a", policy="p2", tags={}),
    ])
    ids = lambda rs: [r.request_id for r in rs]  # noqa: E731
    assert ids(ledger.records()) == ["req-0", "req-1", "req-2", "req-3"]
    assert ids(ledger.records(model="a")) == ["req-0", "req-2", "req-3"]
    assert ids(ledger.records(policy="p2")) == ["req-2", "req-3"]
    assert ids(ledger.records(tags={"user": "bob"})) == ["req-1", "req-2"]
    assert ids(ledger.records(tags={"user": "bob", "team": "t"})) == ["req-2"]
    assert ids(ledger.records(since=T0 + timedelta(minutes=1))) == ["req-1", "req-2", "req-3"]
    assert ids(ledger.records(until=T0 + timedelta(minutes=2))) == ["req-0", "req-1"]
    assert ids(ledger.records(limit=2)) == ["req-0", "req-1"]
    assert ids(ledger.records(model="a", limit=1, since=T0 + timedelta(minutes=1))) == ["req-2"]


def _sample() -> list[SpendRecord]:
    return [
        make_record(0, model="a", status="ok", cost_usd=Decimal("0.10"), tags={"user": "alice"}),
        make_record(0, attempt=1, model="b", status="error", cost_usd=Decimal("0.01")),
        make_record(1, model="a", status="cache_hit", cost_usd=Decimal("0"), tags={}),
        make_record(2, model="b", status="estimated", estimated=True, cost_usd=Decimal("0.02"),
                    tier="premium", policy="p2", tags={"user": "bob"}),
        make_record(2000, model="a", cost_usd=Decimal("0.03"), tags={"user": "bob"}),
        make_record(2001, model="a", cost_usd=Decimal("0"), role="verifier", verdict="fail",
                    service_tier="flex"),
    ]


@pytest.mark.parametrize(
    "group_by",
    [(), ("model",), ("policy",), ("tier",), ("status",), ("day",), ("tag:user",),
     ("model", "tag:user"), ("provider", "day"), ("service_tier",), ("role", "model")],
)
def test_summary_matches_the_pure_core(ledger: Ledger, group_by: tuple[str, ...]) -> None:
    ledger.append_many(_sample())
    assert ledger.summary(group_by=group_by) == summarize(ledger.records(), group_by)


def test_summary_totals(ledger: Ledger) -> None:
    ledger.append_many(_sample())
    (total,) = ledger.summary()
    assert total.requests == 5 and total.attempts == 6
    assert total.cost_usd == Decimal("0.160000")
    assert total.cache_hits == 1 and total.errors == 1 and total.estimated == 1
    assert total.input_tokens == 600 and total.output_tokens == 120
    assert total.baseline_cost_usd == Decimal("0.006000")
    by_role = {r.group["role"]: r.attempts for r in ledger.summary(group_by=["role"])}
    assert by_role == {"answer": 5, "verifier": 1}
    by_tier = {r.group["service_tier"]: r.requests for r in ledger.summary(group_by=["service_tier"])}
    assert by_tier == {"default": 4, "flex": 1}
    by_day = ledger.summary(group_by=["day"])
    assert [r.group["day"] for r in by_day] == ["2026-11-03", "2026-11-04"]
    by_user = {r.group["tag:user"]: r.cost_usd for r in ledger.summary(group_by=["tag:user"])}
    assert by_user == {"": Decimal("0.000000"), "alice": Decimal("0.110000"),
                       "bob": Decimal("0.050000")}


def test_summary_filters(ledger: Ledger) -> None:
    ledger.append_many(_sample())
    (row,) = ledger.summary(model="a", since=T0 + timedelta(minutes=1))
    assert row.attempts == 3 and row.cost_usd == Decimal("0.030000")  # with the $0 verifier call
    (row,) = ledger.summary(tags={"user": "bob"}, policy="default")
    assert row.cost_usd == Decimal("0.030000")


def test_empty_summary(ledger: Ledger) -> None:
    assert ledger.summary() == []
    assert ledger.summary(group_by=["model"]) == []


def test_bad_group_by(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="cannot group by"):
        ledger.summary(group_by=["prompt_text"])


def test_concurrent_appends(ledger: Ledger) -> None:
    def work(t: int) -> None:
        for i in range(25):
            ledger.append(make_record(t * 1000 + i, cost_usd=Decimal("0.000001")))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    (row,) = ledger.summary()
    assert row.attempts == 200 and row.cost_usd == Decimal("0.000200")


def test_feedback_is_kept_and_the_latest_score_wins(ledger: Ledger) -> None:
    from datetime import datetime, timezone

    now = datetime(2026, 11, 3, 12, 0, tzinfo=timezone.utc)
    assert ledger.feedback() == {}
    ledger.record_feedback("req-1", 0.25, now)
    ledger.record_feedback("req-2", 1.0, now)
    ledger.record_feedback("req-1", 0.75, now)
    assert ledger.feedback() == {"req-1": 0.75, "req-2": 1.0}


def test_stored_tags_are_read_only_and_independent_of_the_caller(ledger: Ledger) -> None:
    tags = {"user": "alice"}
    ledger.append(make_record(1, tags=tags))
    tags["user"] = "mallory"  # the caller's dict changes after the append
    (back,) = ledger.records()
    assert back.tags == {"user": "alice"}
    with pytest.raises(TypeError):
        back.tags["user"] = "mallory"  # type: ignore[index]
    assert ledger.records()[0].tags == {"user": "alice"}


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_money_is_refused_and_nothing_is_recorded(ledger: Ledger, bad: str) -> None:
    with pytest.raises(ValueError):
        ledger.append(make_record(1, cost_usd=Decimal(bad)))
    assert ledger.records() == []


def test_a_record_already_in_ledger_form_reads_back_equal(ledger: Ledger) -> None:
    from costroute.spend import Tags

    rec = make_record(1, cost_usd=Decimal("0.000123"), tags=Tags({"user": "bob"}))
    ledger.append(rec)
    (back,) = ledger.records()
    assert back == rec and str(back.cost_usd) == "0.000123"


def test_money_rounding_to_zero_is_never_a_signed_zero(ledger: Ledger) -> None:
    ledger.append(make_record(1, saved_usd=Decimal("-0.0000004"), cost_usd=Decimal("-0.000000")))
    (back,) = ledger.records()
    assert str(back.saved_usd) == str(back.cost_usd) == "0.000000"


def _call_record(**overrides: object) -> SpendRecord:
    return make_record(
        3, role="cascade_step", step=2, verdict="escalate", service_tier="batch", batch_id="b-1",
        parent_request_id="req-0", prompt_text="the prompt", answer_text="the answer", **overrides,
    )


def test_new_fields_round_trip_and_texts_are_kept_only_with_store_prompts(
    ledger_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    rec = _call_record()
    plain = make_ledger(ledger_kind, request, tmp_path / "plain")
    plain.append(rec)
    (back,) = plain.records()
    assert back == dataclasses.replace(rec, prompt_text=None, answer_text=None)
    plain.close()
    keeping = make_ledger(ledger_kind, request, tmp_path / "keeping", store_prompts=True)
    rec = dataclasses.replace(rec, request_id="req-kept")  # PostgreSQL: the same database
    keeping.append(rec)
    (back,) = [r for r in keeping.records() if r.request_id == "req-kept"]
    assert back == rec and back.answer_text == "the answer"
    keeping.close()


def test_an_app_score_overrides_a_judge_score_in_either_order(ledger: Ledger) -> None:
    from datetime import datetime, timezone

    now = datetime(2026, 11, 3, 12, 0, tzinfo=timezone.utc)
    ledger.append_many([
        make_record(1, model="weak", status="error"), make_record(1, attempt=1, model="strong"),
        make_record(2, model="m2"), make_record(3, model="m3"),
    ])
    ledger.record_feedback("req-1", 0.2, now, source="judge")
    ledger.record_feedback("req-1", 0.9, now)  # app after judge
    ledger.record_feedback("req-2", 0.7, now, source="app", model="m2-given")
    ledger.record_feedback("req-2", 0.1, now, source="judge")  # judge after app: app still wins
    ledger.record_feedback("req-3", 0.4, now, source="judge")
    ledger.record_feedback("req-3", 0.6, now, source="judge")  # a later judge score replaces
    assert ledger.feedback() == {"req-1": 0.9, "req-2": 0.7, "req-3": 0.6}
    entries = [(e.request_id, e.source, e.score, e.model) for e in ledger.feedback_entries()]
    assert entries == [
        ("req-1", "app", 0.9, "strong"), ("req-1", "judge", 0.2, "strong"),  # the answering model
        ("req-2", "app", 0.7, "m2-given"), ("req-2", "judge", 0.1, "m2"),
        ("req-3", "judge", 0.6, "m3"),
    ]
    assert all(e.ts == now for e in ledger.feedback_entries())
    with pytest.raises(ValueError, match="source"):
        ledger.record_feedback("req-1", 0.5, now, source="user")  # type: ignore[arg-type]


async def test_the_async_half_matches_the_sync_half(ledger: Ledger) -> None:
    from datetime import datetime, timezone

    now = datetime(2026, 11, 3, 12, 0, tzinfo=timezone.utc)
    await ledger.aready()
    await ledger.aappend(make_record(0, model="a"))
    await ledger.aappend_many([make_record(1, model="b"), make_record(0, model="a")])
    await asyncio.gather(*(ledger.aappend(make_record(10 + i)) for i in range(20)))
    assert await ledger.arecords() == ledger.records()
    assert [r.request_id for r in await ledger.arecords(model="b")] == ["req-1"]
    assert len(await ledger.arecords(limit=3)) == 3
    for group_by in ((), ("model",), ("role", "tag:user")):
        assert await ledger.asummary(group_by=group_by) == ledger.summary(group_by=group_by)
    assert (await ledger.asummary(model="a"))[0].attempts == 1
    await ledger.arecord_feedback("req-1", 0.5, now, source="judge")
    await ledger.arecord_feedback("req-1", 1.0, now)
    assert await ledger.afeedback() == ledger.feedback() == {"req-1": 1.0}
    assert await ledger.afeedback_entries() == ledger.feedback_entries()
    assert [e.model for e in ledger.feedback_entries()] == ["b", "b"]


def test_ready_is_silent_while_the_ledger_works(ledger: Ledger) -> None:
    ledger.ready()
    ledger.append(make_record(1))
    ledger.ready()
