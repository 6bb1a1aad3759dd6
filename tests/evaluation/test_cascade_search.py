"""Choosing cascades: the search's figures are the state machine's, and held-out choices never
see the task they are scored on."""

from __future__ import annotations

import random

import pytest

from costroute.evaluation import parse_outcome
from costroute.evaluation._cascade import SearchSpace, choose, search_cascades
from costroute.evaluation._cascade_replay import ReplayTable, replay_cascade
from costroute.evaluation._heldout import group_rows, held_out, in_sample, pooled, route_rows

from .conftest import cascade_rows

ROWS = cascade_rows(per_task=40)
OUTCOMES = [parse_outcome(r, f"rows:{i}") for i, r in enumerate(ROWS)]
TABLE = ReplayTable(OUTCOMES, [random.Random(i).random() for i in range(len(OUTCOMES))])
ALL = list(range(len(TABLE)))


def test_every_scored_figure_is_what_the_state_machine_gives() -> None:
    scored = search_cascades(TABLE, ALL, SearchSpace(skip_quantiles=(0.5,)))
    assert len({s.candidate for s in scored}) == len(scored) > 50
    for s in random.Random(0).sample(scored, 25):
        exact = replay_cascade(s.candidate.cascade(), TABLE)
        assert (exact.quality, exact.cost) == (pytest.approx(s.quality), pytest.approx(s.cost))


def test_choose_takes_the_cheapest_reaching_the_target() -> None:
    scored = search_cascades(TABLE, ALL)
    big = sum(o.scores["big"] for o in OUTCOMES) / len(OUTCOMES)
    picked = choose(scored, 0.9 * big)
    assert picked is not None and picked.quality >= 0.9 * big
    assert all(s.cost >= picked.cost for s in scored if s.quality >= 0.9 * big)
    assert choose(scored, 2.0) is None
    assert picked.candidate.final == "big" and "big" not in picked.candidate.with_


def test_group_targets_make_the_choice_reach_the_goal_on_every_group() -> None:
    groups = list(group_rows(TABLE).values())
    scored = search_cascades(TABLE, ALL, groups=groups)
    targets = [0.95 * sum(TABLE.quality[r][TABLE.index["big"]] for r in g) / len(g) for g in groups]
    picked = choose(scored, 0.0, targets)
    assert picked is not None
    for g, target in zip(groups, targets, strict=True):
        assert replay_cascade(picked.candidate.cascade(), TABLE, g).quality >= target - 1e-12


def test_held_out_choices_never_see_the_task_they_are_scored_on() -> None:
    results = held_out(TABLE, [0.9])[0.9]
    assert [r.task for r in results] == ["quiz", "riddles", "code"]
    # the same search with the held-out task's scores scrambled chooses the same cascades
    scrambled = [parse_outcome({**row, "scores": {m: 1.0 - s for m, s in row["scores"].items()}}, "x")
                 if row["task"] == "code" else o for row, o in zip(ROWS, OUTCOMES, strict=True)]
    again = held_out(ReplayTable(scrambled, TABLE.difficulty), [0.9])[0.9]
    assert results[2].cascade.candidate == again[2].cascade.candidate
    for r in results:
        assert r.cascade.replay is not None and r.cascade.replay.n == len(r.rows)
        assert r.routing is not None  # difficulty scores given: routing is held out too
    total = pooled(results)
    assert total.prompts == len(TABLE) and total.cascade_quality is not None


def test_in_sample_reaches_its_goal_on_the_prompts_it_was_chosen_on() -> None:
    result = in_sample(TABLE, [0.9, 0.95])
    for goal, r in result.items():
        assert r.task == "all" and r.cascade.quality_share is not None
        assert r.cascade.quality_share >= goal - 1e-12


def test_holding_out_needs_two_tasks() -> None:
    one = ReplayTable([parse_outcome({**r, "task": "", "source": ""}, "x") for r in ROWS[:20]])
    assert list(group_rows(one)) == ["all"]
    with pytest.raises(ValueError, match="two tasks"):
        held_out(one, [0.9])


def test_route_rows_sends_each_prompt_to_the_highest_rung_it_reaches() -> None:
    ladder = ["small", "mid", "big"]
    assert route_rows([0.1, 0.5, 0.9, 0.7], ladder, {"mid": 0.5, "big": 0.7}) == ["small", "mid", "big", "big"]
    assert route_rows([0.99], ladder, {"mid": float("inf"), "big": float("inf")}) == ["small"]
