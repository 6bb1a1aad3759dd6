"""The cache key: canonical, order-independent, versioned, and blind to credentials."""

from __future__ import annotations

import copy
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costroute.cache import (
    EXCLUDED_KEYS,
    KEY_VERSION,
    cache_key,
    canonical_request,
    canonicalize,
    model_target,
    routed_target,
)

from .conftest import SENTINEL

BASE: dict[str, Any] = {
    "model": "auto",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2?"},
    ],
    "temperature": 0,
}


def key(request: Any, **kw: str) -> str:
    params = {"policy": "default", "namespace": "alice", "target": routed_target("default")}
    params.update(kw)
    return cache_key(request, **params)


def test_format_is_versioned_sha256() -> None:
    k = key(BASE)
    assert KEY_VERSION == "cr2"
    prefix, digest = k.split(":")
    assert prefix == KEY_VERSION
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_namespace_policy_and_target_are_key_material() -> None:
    base = key(BASE)
    assert key(BASE, namespace="bob") != base
    assert key(BASE, policy="cheap") != base
    assert key(BASE, target=model_target("openai/gpt-4o")) != base
    assert key(BASE, target=model_target("openai/gpt-4o")) != key(
        BASE, target=model_target("openai/gpt-4o-mini")
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"temperature": 1}, {"temperature": 1.0}),
        ({"temperature": 0}, {"temperature": 0.0}),
        ({"temperature": 0}, {"temperature": Decimal("0.00")}),
        ({"top_p": 0.5}, {"top_p": Decimal("0.5")}),
        ({"stop": "END"}, {"stop": ["END"]}),
        ({"stop": ("a", "b")}, {"stop": ["a", "b"]}),
        ({"seed": None}, {}),
        ({"logit_bias": {50256: -100}}, {"logit_bias": {"50256": -100}}),
    ],
)
def test_equivalent_spellings_share_a_key(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert key({**BASE, **a}) == key({**BASE, **b})


def test_none_inside_messages_equals_absent() -> None:
    with_none = copy.deepcopy(BASE)
    with_none["messages"][1]["name"] = None
    assert key(with_none) == key(BASE)


@pytest.mark.parametrize("excluded", sorted(EXCLUDED_KEYS))
def test_excluded_keys_do_not_change_the_key(excluded: str) -> None:
    assert key({**BASE, excluded: "anything"}) == key(BASE)


@pytest.mark.parametrize(
    "name",
    ["api_key", "aws_secret_access_key", "vertex_credentials", "azure_ad_token", "password"],
)
def test_credentials_never_enter_the_key_material(name: str) -> None:
    request = {**BASE, name: SENTINEL}
    assert key(request) == key(BASE)
    assert SENTINEL not in repr(canonical_request(request))


def test_str_and_bool_and_bytes_are_distinct() -> None:
    assert key({**BASE, "x": 1}) != key({**BASE, "x": True})
    assert key({**BASE, "x": "1"}) != key({**BASE, "x": 1})
    assert key({**BASE, "x": b"ab"}) != key({**BASE, "x": "ab"})


def test_pydantic_objects_key_like_their_dicts() -> None:
    from pydantic import BaseModel

    class Message(BaseModel):
        role: str
        content: str
        name: str | None = None

    as_objects = {**BASE, "messages": [Message(**m) for m in BASE["messages"]]}
    assert key(as_objects) == key(BASE)


def test_a_precomputed_canonical_form_gives_the_same_key() -> None:
    request = {**BASE, "tools": [{"type": "function", "function": {"name": "f"}}], "stop": "x"}
    canonical = canonicalize(request)
    assert key(canonical) == key(request)
    assert canonical.params["stop"] == ["x"] and "model" not in canonical.params


def test_value_without_a_json_form_raises_type_error() -> None:
    with pytest.raises(TypeError):
        key({**BASE, "x": object()})


# -- properties ------------------------------------------------------------------------------

_text = st.text(max_size=20)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-1000, 1000), _text,
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)  # fmt: skip
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_tool_call = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=8),
        "type": st.just("function"),
        "function": st.fixed_dictionaries({"name": _text, "arguments": _text}),
    }
)
_part = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": _text}),
    st.fixed_dictionaries(
        {"type": st.just("image_url"), "image_url": st.fixed_dictionaries({"url": _text})}
    ),
)
_message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "user", "assistant", "tool"]),
        "content": st.one_of(_text, st.lists(_part, min_size=1, max_size=3)),
    },
    optional={
        "name": st.text(min_size=1, max_size=5),
        "tool_call_id": st.text(min_size=1, max_size=5),
        "tool_calls": st.lists(_tool_call, min_size=1, max_size=2),
    },
)
_requests = st.fixed_dictionaries(
    {"messages": st.lists(_message, min_size=1, max_size=4)},
    optional={
        "temperature": st.floats(0, 2, allow_nan=False),
        "top_p": st.floats(0, 1, allow_nan=False),
        "seed": st.integers(0, 2**31),
        "max_tokens": st.integers(1, 4096),
        "tools": st.lists(_json, max_size=2),
        "response_format": _json,
        "extra_provider_knob": _json,
    },
)


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(request=_requests, seed=st.integers())
def test_property_dict_order_never_matters(request: dict[str, Any], seed: int) -> None:
    assert key(_shuffled(request, random.Random(seed))) == key(request)


# Output-affecting fields, each with two values that differ after canonicalisation.
_FIELDS: dict[str, Any] = {
    "temperature": st.floats(0, 2, allow_nan=False),
    "top_p": st.floats(0, 1, allow_nan=False),
    "seed": st.integers(0, 2**31),
    "stop": st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=3),
    "max_tokens": st.integers(1, 100_000),
    "max_completion_tokens": st.integers(1, 100_000),
    "n": st.integers(1, 8),
    "presence_penalty": st.floats(-2, 2, allow_nan=False),
    "frequency_penalty": st.floats(-2, 2, allow_nan=False),
    "logit_bias": st.dictionaries(st.integers(0, 10**5).map(str), st.integers(-100, 100)),
    "reasoning_effort": st.sampled_from(["low", "medium", "high"]),
    "tools": st.lists(_json, min_size=1, max_size=2),
    "tool_choice": st.one_of(st.sampled_from(["auto", "none", "required"]), _json),
    "response_format": _json,
    "some_provider_extra": _json,
}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    request=_requests,
    field=st.sampled_from(sorted(_FIELDS)),
    data=st.data(),
)
def test_property_changing_an_output_field_changes_the_key(
    request: dict[str, Any], field: str, data: st.DataObject
) -> None:
    value = data.draw(_FIELDS[field])
    other = data.draw(_FIELDS[field])
    a, b = {**request, field: value}, {**request, field: other}
    # the canonical JSON decides (Python's == would call False and 0 equal; the key does not)
    if canonicalize(a).params_json == canonicalize(b).params_json:
        assert key(a) == key(b)  # 1 vs 1.0 and the like: equal by design
    else:
        assert key(a) != key(b)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(request=_requests, data=st.data())
def test_property_changing_any_message_changes_the_key(
    request: dict[str, Any], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(request["messages"]) - 1))
    replacement = data.draw(_message)
    changed = copy.deepcopy(request)
    changed["messages"][index] = replacement
    same = canonical_request(changed) == canonical_request(request)
    assert (key(changed) == key(request)) is same
    # and the canonical forms differ whenever a role, text, part or tool call differs
    if replacement != request["messages"][index]:
        assert not same


@settings(max_examples=100)
@given(request=_requests, junk=_json, name=st.sampled_from(sorted(EXCLUDED_KEYS)))
def test_property_excluded_fields_never_change_the_key(
    request: dict[str, Any], junk: Any, name: str
) -> None:
    assert key({**request, name: junk}) == key(request)
