"""A policy's ``cascade:`` section: validated, frozen pydantic models. Unknown keys are errors.

.. code-block:: yaml

    policies:
      careful:
        strategy: cascade
        cascade:
          steps: [openai/gpt-4o-mini, {model: anthropic/claude-haiku-4-5, skip_above: 0.8}]
          final: openai/gpt-4o
          accept:
            agreement: {with: [groq/llama-3.1-8b-instant], min: 1}
            logprob: {min_mean: -0.35}
            judge: {model: openai/gpt-4o-mini, min_score: 0.7}

That every model named here is listed under ``models:`` is checked by the loader
(:func:`costroute.policies.check_references`), which sees the whole file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

__all__ = [
    "AcceptConfig",
    "AgreementConfig",
    "CascadeConfig",
    "JudgeConfig",
    "LogprobConfig",
    "StepConfig",
]

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Name = Annotated[str, Field(min_length=1)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class StepConfig(_Frozen):
    """One step: a model name, or ``{model, skip_above}`` to skip the step for prompts whose
    difficulty is at least ``skip_above`` (so harder prompts start at a later step)."""

    model: Name
    skip_above: Share | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"model": value} if isinstance(value, str) else value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"anyOf": [{"type": "string", "minLength": 1}, handler(core_schema)]}


class AgreementConfig(_Frozen):
    """Accept when at least ``min`` of the ``with`` models' answers agree with the step's.
    ``min_similarity`` sets how alike code and free-text answers must be (1.0: equal after
    normalization; defaults: code 1.0, text 0.8)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    with_: Annotated[list[Name], Field(alias="with", min_length=1)]
    min: Annotated[int, Field(ge=1)] = 1
    min_similarity: dict[Literal["code", "text"], Share] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _reachable(self) -> AgreementConfig:
        if len(set(self.with_)) != len(self.with_):
            raise ValueError("`with` names a model twice")
        if self.min > len(self.with_):
            raise ValueError(f"`min` is {self.min} but `with` names only {len(self.with_)} model(s)")
        return self


class LogprobConfig(_Frozen):
    """Accept when the answer's mean token log probability is at least ``min_mean`` (a log
    probability, so at most 0). Needs a provider that returns logprobs; abstains otherwise."""

    min_mean: Annotated[float, Field(le=0.0)]


class JudgeConfig(_Frozen):
    """Accept when ``model``, grading the answer against ``rubric`` (a default one when unset),
    scores it at least ``min_score`` (in [0, 1])."""

    model: Name
    min_score: Share
    rubric: Annotated[str, Field(min_length=1)] | None = None
    max_output_tokens: Annotated[int, Field(gt=0, le=1024)] = 8


class AcceptConfig(_Frozen):
    """The verifiers that may accept a step's answer. ``plugins`` configures verifiers
    registered under the ``costroute.verifiers`` entry point (or injected), by name."""

    agreement: AgreementConfig | None = None
    logprob: LogprobConfig | None = None
    judge: JudgeConfig | None = None
    plugins: dict[Name, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _some(self) -> AcceptConfig:
        if not self.configured():
            raise ValueError("name at least one verifier (agreement, logprob, judge or a plugin)")
        clash = sorted(set(self.plugins) & {"agreement", "logprob", "judge"})
        if clash:
            raise ValueError(f"plugins: {clash[0]!r} is a built-in verifier; configure it as accept.{clash[0]}")
        return self

    def configured(self) -> dict[str, dict[str, Any]]:
        """Verifier name -> its parameters, built-ins first, in the order they are tried."""
        out: dict[str, dict[str, Any]] = {}
        for name in ("logprob", "agreement", "judge"):
            section = getattr(self, name)
            if section is not None:
                out[name] = section.model_dump(by_alias=True)
        out.update(self.plugins)
        return out


class CascadeConfig(_Frozen):
    """Try ``steps`` cheapest first; accept a step's answer when the ``accept`` verifiers say so
    (any of them, or all with ``require: all``), else escalate, ending with ``final``.

    ``skip_above``: prompts at least this difficult go straight to ``final``. ``stream``: with
    ``verified`` a streamed request streams the accepted answer (steps are verified first; the
    final call streams as it arrives); ``first_step_unverified`` streams the first step's answer
    unverified. ``task`` fixes how answers are compared (``auto``: detected per request).
    ``parallel``: ask the agreement models together with the step (lower latency; they are then
    paid for even when another verifier accepts first)."""

    steps: Annotated[list[StepConfig], Field(min_length=1)]
    final: Name
    accept: AcceptConfig
    require: Literal["any", "all"] = "any"
    skip_above: Share | None = None
    stream: Literal["verified", "first_step_unverified"] = "verified"
    task: Literal["auto", "choice", "number", "code", "text"] = "auto"
    parallel: bool = True

    @model_validator(mode="after")
    def _distinct(self) -> CascadeConfig:
        models = [s.model for s in self.steps]
        for i, model in enumerate(models):
            if model in models[:i]:
                raise ValueError(f"steps[{i}]: {model!r} is already steps[{models.index(model)}]")
        if self.final in models:
            raise ValueError(f"final {self.final!r} is also a step; the final model answers unverified")
        return self

    def named_models(self) -> Iterator[tuple[str, str]]:
        """``(key path under the cascade, model)`` for every model the section names."""
        for i, step in enumerate(self.steps):
            yield f"steps[{i}]", step.model
        yield "final", self.final
        if self.accept.agreement is not None:
            for i, model in enumerate(self.accept.agreement.with_):
                yield f"accept.agreement.with[{i}]", model
        if self.accept.judge is not None:
            yield "accept.judge.model", self.accept.judge.model
