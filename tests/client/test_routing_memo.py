"""Repeated requests reuse their routing decision, but only when the request routes the same."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from costroute import Client, RequestValidationError

MESSAGES = [{"role": "user", "content": "Give me JSON for Paris"}]


def _config() -> dict[str, Any]:
    return {
        "models": [
            {"name": "openai/cheap", "quality": 0.9, "price": {"input_per_mtok": 1, "output_per_mtok": 2},
             "supports": {"json": False}},
            {"name": "openai/strong", "quality": 0.9, "price": {"input_per_mtok": 10, "output_per_mtok": 20},
             "supports": {"json": True}},
        ],
        "policies": {"default": {"baseline": "openai/strong"}},
        "ledger": {"backend": "memory"},
    }


class JsonMode(BaseModel):
    type: str = "json_object"


class Answer(BaseModel):
    city: str


@pytest.mark.parametrize("fmt", [{"type": "json_object"}, JsonMode(), Answer], ids=["dict", "object", "class"])
def test_every_spelling_of_json_output_needs_a_json_model(fmt: Any) -> None:
    client = Client(_config())
    assert client.route(MESSAGES).model == "openai/cheap"
    assert client.route(MESSAGES, response_format=fmt).model == "openai/strong"


def test_the_memo_does_not_carry_a_decision_across_spellings() -> None:
    client = Client(_config())
    first = client.route(MESSAGES, response_format=JsonMode())
    again = client.route(MESSAGES, response_format={"type": "json_object"})
    assert first.model == again.model == "openai/strong"


class Unprintable:
    def model_dump(self, **kwargs: Any) -> Any:
        raise ValueError("cannot describe itself")


@pytest.mark.parametrize(
    ("extra", "where"),
    [({"x": Decimal("sNaN")}, "extra_body.x"), (Unprintable(), "extra_body"), ({"n": 10**5000}, "extra_body.n"),
     ({1, 2}, "extra_body"), ({"x": float("nan")}, "extra_body.x"), ({"x": object()}, "extra_body.x")],
    ids=["signalling-nan", "failing-model-dump", "huge-int", "set", "nan", "object"],
)
def test_a_request_without_a_json_form_is_refused_naming_the_place(extra: Any, where: str) -> None:
    client = Client({**_config(), "cache": {"backend": "memory"}})
    with pytest.raises(RequestValidationError) as caught:
        client.route(MESSAGES, extra_body=extra, temperature=0)
    assert caught.value.location == where


def test_tool_schemas_with_no_json_form_are_refused_before_any_call() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"maximum": 10**5000}}}]
    with pytest.raises(RequestValidationError) as caught:
        Client(_config()).route(MESSAGES, tools=tools)
    assert caught.value.location == "tools[0].function.parameters.maximum" and "JSON" in str(caught.value)


def test_tool_schemas_with_mixed_key_types_are_counted_and_routed() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"a": 1, 2: "x"}}}]
    assert Client(_config()).route(MESSAGES, tools=tools).input_tokens > Client(_config()).route(MESSAGES).input_tokens
