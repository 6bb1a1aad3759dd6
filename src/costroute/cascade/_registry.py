"""Finding verifiers by name: the built-ins, plug-ins registered under the ``costroute.verifiers``
entry point, and factories injected by the caller (which win).

A factory takes the verifier's parameters (the mapping under its name in ``accept:``) and
returns a :class:`~costroute.cascade.Verifier`; it raises ``ValueError`` (or a pydantic
``ValidationError``) for bad parameters. A plug-in package declares one as::

    [project.entry-points."costroute.verifiers"]
    regex = "my_package.verifiers:RegexVerifier.from_params"

and a config then uses it as ``accept: {plugins: {regex: {pattern: "^OK"}}}``.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from costroute._errors import ConfigError
from costroute._files import key_path
from costroute.cascade._config import AgreementConfig, JudgeConfig, LogprobConfig
from costroute.cascade._prompt import Kind
from costroute.cascade._verifiers import (
    DEFAULT_MIN_SIMILARITY,
    DEFAULT_RUBRIC,
    AgreementVerifier,
    JudgeVerifier,
    LogprobVerifier,
    Verifier,
)

__all__ = ["ENTRY_POINT_GROUP", "VerifierFactory", "VerifierRegistry"]

logger = logging.getLogger("costroute.cascade")

ENTRY_POINT_GROUP = "costroute.verifiers"

VerifierFactory = Callable[[Mapping[str, Any]], Verifier]


def _agreement(params: Mapping[str, Any]) -> Verifier:
    config = AgreementConfig.model_validate(params)
    similar: dict[Kind, float] = dict(DEFAULT_MIN_SIMILARITY)
    for kind, value in config.min_similarity.items():
        similar[kind] = value
    return AgreementVerifier(tuple(config.with_), config.min, similar)


def _logprob(params: Mapping[str, Any]) -> Verifier:
    return LogprobVerifier(LogprobConfig.model_validate(params).min_mean)


def _judge(params: Mapping[str, Any]) -> Verifier:
    config = JudgeConfig.model_validate(params)
    return JudgeVerifier(config.model, config.min_score, config.rubric or DEFAULT_RUBRIC, config.max_output_tokens)


BUILTIN: Mapping[str, VerifierFactory] = {"agreement": _agreement, "logprob": _logprob, "judge": _judge}


class VerifierRegistry:
    """Verifier factories by name. :meth:`default` is the built-ins, then the entry-point
    plug-ins, then ``extra`` (each may replace an earlier one of the same name)."""

    def __init__(self, factories: Mapping[str, VerifierFactory]) -> None:
        self._factories = dict(factories)

    @classmethod
    def default(cls, *, plugins: bool = True, extra: Mapping[str, VerifierFactory] | None = None) -> VerifierRegistry:
        factories = dict(BUILTIN)
        if plugins:
            factories.update(_entry_points(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)))
        factories.update(extra or {})
        return cls(factories)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def build(self, name: str, params: Mapping[str, Any], *, where: str = "") -> Verifier:
        """The verifier ``name`` configured with ``params``; a ``ConfigError`` at ``where`` (a
        key path such as ``policies.careful.cascade.accept.plugins.regex``) when it is unknown or
        its parameters are bad."""
        loc = where or name
        factory = self._factories.get(name)
        if factory is None:
            known = ", ".join(self.names())
            raise ConfigError(f"{loc}: no verifier named {name!r} (known: {known}; plug-ins register under "
                              f"the {ENTRY_POINT_GROUP!r} entry point)", problems=[(loc, f"unknown verifier {name!r}")])
        try:
            verifier = factory(params)
        except ValidationError as exc:
            problems = [(f"{loc}.{key_path(e['loc'])}" if e["loc"] else loc, e["msg"])
                        for e in exc.errors(include_url=False, include_input=False)]
            lines = "; ".join(f"{p}: {m}" for p, m in problems)
            raise ConfigError(f"invalid verifier parameters: {lines}", problems=problems) from None
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{loc}: {exc}", problems=[(loc, str(exc))]) from None
        if not isinstance(verifier, Verifier):
            raise ConfigError(f"{loc}: the factory of {name!r} returned {type(verifier).__name__}, not a Verifier",
                              problems=[(loc, "not a Verifier")])
        return verifier


def _entry_points(points: Iterable[importlib.metadata.EntryPoint]) -> dict[str, VerifierFactory]:
    """Each entry point's factory, loaded; one that fails to load is logged and skipped."""
    out: dict[str, VerifierFactory] = {}
    for ep in points:
        try:
            factory = ep.load()
        except Exception:
            logger.exception("verifier plug-in %r (%s) failed to load; skipped", ep.name, ep.value)
            continue
        if not callable(factory):
            logger.error("verifier plug-in %r (%s) is not callable; skipped", ep.name, ep.value)
            continue
        out[ep.name] = factory
    return out
