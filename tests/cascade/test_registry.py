"""Finding verifiers: built-ins, entry-point plug-ins and injected factories."""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from costroute import ConfigError
from costroute.cascade import ENTRY_POINT_GROUP, Answer, Check, Need, Verdict, VerifierRegistry
from costroute.cascade import _registry as registry_module


@dataclass(frozen=True)
class StartsWith:
    """A plug-in verifier: accepts answers starting with a prefix."""

    prefix: str
    name: str = "starts_with"

    @property
    def step_params(self) -> Mapping[str, Any]:
        return {}

    def needs(self, model: str) -> Sequence[Need]:
        return ()

    def messages(self, need: Need, check: Check) -> list[dict[str, Any]]:
        raise TypeError

    def verdict(self, check: Check, results: Mapping[Need, Answer | None]) -> Verdict:
        ok = check.answer.text.startswith(self.prefix)
        return Verdict(self.name, ok, f"starts with {self.prefix!r}: {ok}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> StartsWith:
        if not isinstance(params.get("prefix"), str):
            raise ValueError("`prefix` must be a string")
        return cls(params["prefix"])


def test_builtins_are_known() -> None:
    registry = VerifierRegistry.default(plugins=False)
    assert registry.names() == ["agreement", "judge", "logprob"]
    v = registry.build("agreement", {"with": ["a", "b"], "min": 2, "min_similarity": {"code": 0.9}})
    assert v.needs("c") == [Need("a"), Need("b")]
    assert v.min_similarity["code"] == 0.9 and v.min_similarity["choice"] == 1.0  # type: ignore[attr-defined]


def test_bad_parameters_name_the_key_path() -> None:
    registry = VerifierRegistry.default(plugins=False)
    with pytest.raises(ConfigError) as info:
        registry.build("agreement", {"with": [], "mn": 1}, where="policies.p.cascade.accept.agreement")
    paths = [p for p, _ in info.value.problems]
    assert "policies.p.cascade.accept.agreement.with" in paths
    assert "policies.p.cascade.accept.agreement.mn" in paths


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"no verifier named 'regex'.*agreement, judge, logprob"):
        VerifierRegistry.default(plugins=False).build("regex", {})


def test_injected_factories_are_found_and_win_over_builtins() -> None:
    registry = VerifierRegistry.default(plugins=False, extra={"starts_with": StartsWith.from_params,
                                                               "logprob": StartsWith.from_params})
    assert isinstance(registry.build("starts_with", {"prefix": "OK"}), StartsWith)
    assert isinstance(registry.build("logprob", {"prefix": "OK"}), StartsWith)
    with pytest.raises(ConfigError, match=r"x\.plugins\.starts_with: `prefix` must be a string"):
        registry.build("starts_with", {}, where="x.plugins.starts_with")


def test_a_factory_returning_something_else_is_refused() -> None:
    registry = VerifierRegistry({"odd": lambda params: object()})  # type: ignore[arg-type, return-value]
    with pytest.raises(ConfigError, match="not a Verifier"):
        registry.build("odd", {})


def test_entry_point_plugins_load_and_broken_ones_are_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    points = importlib.metadata.EntryPoints([
        importlib.metadata.EntryPoint("starts_with", f"{__name__}:StartsWith.from_params", ENTRY_POINT_GROUP),
        importlib.metadata.EntryPoint("broken", "no_such_module_xyz:factory", ENTRY_POINT_GROUP),
    ])

    def entry_points(*, group: str) -> importlib.metadata.EntryPoints:
        assert group == ENTRY_POINT_GROUP
        return points

    monkeypatch.setattr(registry_module.importlib.metadata, "entry_points", entry_points)
    with caplog.at_level(logging.ERROR, logger="costroute.cascade"):
        registry = VerifierRegistry.default()
    assert "starts_with" in registry.names() and "broken" not in registry.names()
    assert "verifier plug-in 'broken'" in caplog.text
    assert VerifierRegistry.default(plugins=False).names() == ["agreement", "judge", "logprob"]
