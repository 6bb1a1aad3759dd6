"""Read-only JSON containers: shared by readers, changed by nobody."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from costroute._frozen import FrozenDict, FrozenList, freeze, thaw

DATA: dict[str, Any] = {"choices": [{"message": {"content": "hi", "tool_calls": [{"id": "t1"}]}}], "n": 1}

MUTATIONS = [
    lambda d: d.__setitem__("n", 2),
    lambda d: d.__delitem__("n"),
    lambda d: d.update(n=2),
    lambda d: d.pop("n"),
    lambda d: d.popitem(),
    lambda d: d.setdefault("x", 1),
    lambda d: d.clear(),
    lambda d: d["choices"].append({}),
    lambda d: d["choices"].pop(),
    lambda d: d["choices"].__setitem__(0, {}),
    lambda d: d["choices"].sort(),
    lambda d: d["choices"][0]["message"].__setitem__("content", "tampered"),
    lambda d: d["choices"][0]["message"]["tool_calls"].extend([{}]),
]


@pytest.mark.parametrize("mutate", MUTATIONS)
def test_every_level_of_frozen_data_refuses_changes(mutate: Any) -> None:
    frozen = freeze(DATA)
    with pytest.raises(TypeError, match="read-only"):
        mutate(frozen)
    assert frozen == DATA


def test_frozen_data_is_still_json_and_equal_to_the_original() -> None:
    frozen = freeze(DATA)
    assert isinstance(frozen, dict) and isinstance(frozen["choices"], FrozenList)
    assert json.dumps(frozen, sort_keys=True) == json.dumps(DATA, sort_keys=True)
    assert pickle.loads(pickle.dumps(frozen)) == DATA


def test_freeze_copies_so_the_source_can_change_afterwards() -> None:
    source = copy.deepcopy(DATA)
    frozen = freeze(source)
    source["choices"][0]["message"]["content"] = "changed"
    assert frozen["choices"][0]["message"]["content"] == "hi"


def test_thaw_gives_plain_mutable_data() -> None:
    thawed = thaw(freeze(DATA))
    assert type(thawed) is dict and type(thawed["choices"]) is list
    assert type(thawed["choices"][0]["message"]["tool_calls"][0]) is dict
    thawed["choices"][0]["message"]["content"] = "mine"
    assert thawed != DATA


def test_frozen_dict_copy_is_a_plain_dict() -> None:
    plain = FrozenDict({"a": 1}).copy()
    plain["b"] = 2
    assert plain == {"a": 1, "b": 2}


def test_tuples_freeze_into_frozen_lists_and_thaw_into_lists() -> None:
    inner = {"content": "original"}
    frozen = freeze({"choices": (inner,)})
    inner["content"] = "changed"
    assert isinstance(frozen["choices"], FrozenList) and frozen["choices"][0]["content"] == "original"
    assert thaw((1, [2])) == [1, [2]]
