"""The `strategy: cascade` policy and its `cascade:` section, through the real config loader."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from costroute import ConfigError
from costroute.cascade import Cascade, VerifierRegistry
from costroute.policies import CostrouteConfig, load_config

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "openai/gpt-4o", "groq/llama-3.1-8b-instant"]

ISSUE_EXAMPLE: dict[str, Any] = {
    "models": [{"name": m} for m in MODELS],
    "policies": {
        "default": {},
        "careful": {
            "strategy": "cascade",
            "cascade": {
                "steps": ["openai/gpt-4o-mini", {"model": "anthropic/claude-haiku-4-5", "skip_above": 0.8}],
                "final": "openai/gpt-4o",
                "accept": {
                    "agreement": {"with": ["groq/llama-3.1-8b-instant"], "min": 1},
                    "logprob": {"min_mean": -0.35},
                    "judge": {"model": "openai/gpt-4o-mini", "min_score": 0.7},
                },
            },
        },
    },
}


def with_cascade(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(ISSUE_EXAMPLE)
    config["policies"]["careful"]["cascade"].update(changes)
    return config


def problems(config: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        load_config(config)
    return dict(info.value.problems)


def test_the_issue_example_loads_and_builds_a_cascade() -> None:
    config = load_config(ISSUE_EXAMPLE)
    policy = config.policies["careful"]
    assert policy.strategy == "cascade" and config.policies["default"].strategy == "route"
    assert policy.cascade is not None
    assert [s.model for s in policy.cascade.steps] == ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]
    assert policy.cascade.steps[1].skip_above == 0.8
    assert policy.cascade.accept.agreement is not None
    assert policy.cascade.accept.agreement.with_ == ["groq/llama-3.1-8b-instant"]
    assert (policy.cascade.require, policy.cascade.stream, policy.cascade.task) == ("any", "verified", "auto")
    cascade = Cascade.from_config(policy.cascade, registry=VerifierRegistry.default(plugins=False))
    assert [v.name for v in cascade.verifiers] == ["logprob", "agreement", "judge"]
    assert cascade.final == "openai/gpt-4o" and cascade.steps[1].skip_above == 0.8


def test_a_cascade_policy_needs_its_section_and_the_section_its_strategy() -> None:
    config = copy.deepcopy(ISSUE_EXAMPLE)
    del config["policies"]["careful"]["cascade"]
    assert "needs a `cascade:` section" in problems(config)["policies.careful"]
    config = copy.deepcopy(ISSUE_EXAMPLE)
    config["policies"]["careful"]["strategy"] = "route"
    assert "only used with `strategy: cascade`" in problems(config)["policies.careful"]
    config["policies"]["careful"]["strategy"] = "waterfall"
    assert "policies.careful.strategy" in problems(config)


def test_every_model_the_cascade_names_must_be_in_the_pool_with_a_suggestion() -> None:
    config = with_cascade(steps=["openai/gpt-4o-mini", "anthropic/claude-haiku-4.5"], final="openai/gpt4o")
    config["policies"]["careful"]["cascade"]["accept"]["agreement"]["with"] = ["groq/llama-3.1-8b"]
    config["policies"]["careful"]["cascade"]["accept"]["judge"]["model"] = "nobody/at-all"
    found = problems(config)
    base = "policies.careful.cascade"
    assert "did you mean anthropic/claude-haiku-4-5" in found[f"{base}.steps[1]"]
    assert "did you mean openai/gpt-4o" in found[f"{base}.final"]
    assert "did you mean groq/llama-3.1-8b-instant" in found[f"{base}.accept.agreement.with[0]"]
    assert "unknown model 'nobody/at-all'" in found[f"{base}.accept.judge.model"]
    empty_pool = copy.deepcopy(ISSUE_EXAMPLE)
    empty_pool["models"] = []
    assert f"{base}.final" in problems(empty_pool)  # a cascade cannot lean on an implicit pool


def test_misspelled_keys_are_reported_with_suggestions() -> None:
    config = with_cascade(acept={}, skip_abov=0.9)
    found = problems(config)
    assert "did you mean accept" in found["policies.careful.cascade.acept"]
    assert "did you mean skip_above" in found["policies.careful.cascade.skip_abov"]
    config = copy.deepcopy(ISSUE_EXAMPLE)
    config["policies"]["careful"]["cascade"]["accept"]["agreement"] = {"wth": ["groq/llama-3.1-8b-instant"], "mn": 1}
    found = problems(config)
    assert "did you mean with" in found["policies.careful.cascade.accept.agreement.wth"]
    assert "did you mean min" in found["policies.careful.cascade.accept.agreement.mn"]
    config = with_cascade(steps=[{"modle": "openai/gpt-4o-mini"}])
    assert "did you mean model" in problems(config)["policies.careful.cascade.steps[0].modle"]


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ({"accept": {}}, "policies.careful.cascade.accept", "at least one verifier"),
        ({"accept": {"agreement": {"with": ["groq/llama-3.1-8b-instant"], "min": 2}}},
         "policies.careful.cascade.accept.agreement", "`min` is 2"),
        ({"accept": {"logprob": {"min_mean": 0.2}}}, "policies.careful.cascade.accept.logprob.min_mean", "0"),
        ({"accept": {"judge": {"model": "openai/gpt-4o", "min_score": 7}}},
         "policies.careful.cascade.accept.judge.min_score", "1"),
        ({"accept": {"plugins": {"judge": {}}}}, "policies.careful.cascade.accept", "built-in verifier"),
        ({"steps": []}, "policies.careful.cascade.steps", "at least 1"),
        ({"steps": ["openai/gpt-4o-mini", "openai/gpt-4o-mini"]}, "policies.careful.cascade", "already steps[0]"),
        ({"final": "openai/gpt-4o-mini"}, "policies.careful.cascade", "also a step"),
        ({"skip_above": 1.5}, "policies.careful.cascade.skip_above", "1"),
        ({"stream": "always"}, "policies.careful.cascade.stream", "first_step_unverified"),
        ({"require": "most"}, "policies.careful.cascade.require", "any"),
    ],
)
def test_bad_values_are_reported_at_their_key_path(changes: dict[str, Any], path: str, message: str) -> None:
    found = problems(with_cascade(**changes))
    assert path in found, found
    assert message in found[path]


def test_plugin_verifiers_are_resolved_when_the_cascade_is_built() -> None:
    config = with_cascade(accept={"plugins": {"regex": {"pattern": "^OK"}}})
    policy = load_config(config).policies["careful"]
    assert policy.cascade is not None
    with pytest.raises(ConfigError) as info:
        Cascade.from_config(policy.cascade, registry=VerifierRegistry.default(plugins=False),
                            where="policies.careful.cascade")
    assert info.value.problems[0][0] == "policies.careful.cascade.accept.plugins.regex"


def test_the_json_schema_offers_steps_as_names_or_objects() -> None:
    schema = CostrouteConfig.model_json_schema()
    assert schema["$defs"]["CascadeConfig"]["properties"]["steps"]["items"] == {"$ref": "#/$defs/StepConfig"}
    step = schema["$defs"]["StepConfig"]["anyOf"]
    assert {"type": "string", "minLength": 1} in step
    assert any(s.get("properties", {}).get("skip_above") for s in step)
    assert "with" in schema["$defs"]["AgreementConfig"]["properties"]
