"""Reading routing-outcome files: JSON Lines, one prompt per line, unknown keys ignored.

Each line looks like::

    {"id": "mmlu-anatomy-3", "source": "routellm/mmlu", "subject": "anatomy",
     "prompt": "...", "scores": {"model-a": 1.0, "model-b": 0.0}, "costs_usd": {"model-a": 0.0004}}

``prompt`` is either a string (a single user turn) or an OpenAI-style list of messages.
Optional: ``task`` (the benchmark task, for leaving whole tasks out) and ``responses`` (each
model's answer text, for strategies that look at answers, such as cascades).
Bad rows raise :class:`~costroute.ConfigError` naming ``file:line``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costroute._errors import ConfigError

__all__ = ["Outcome", "auto_pair", "common_models", "load_outcomes", "parse_outcome"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The recorded outcomes of several models on one prompt."""

    id: str
    prompt: str | tuple[Mapping[str, Any], ...]
    scores: Mapping[str, float]
    costs_usd: Mapping[str, float] = field(default_factory=dict)
    source: str = ""
    group: str = ""
    """``subject`` or ``category`` when the row has one, else ``source``: for grouped folds."""
    task: str = ""
    """The benchmark task the prompt comes from (``task``), when the row says: for holding out
    whole tasks."""
    responses: Mapping[str, str] = field(default_factory=dict)
    """Each model's answer text, where the row records it."""

    @property
    def messages(self) -> list[Mapping[str, Any]]:
        """The prompt as a conversation."""
        if isinstance(self.prompt, str):
            return [{"role": "user", "content": self.prompt}]
        return list(self.prompt)

    @property
    def text(self) -> str:
        """The prompt's text (every message's string content, joined)."""
        if isinstance(self.prompt, str):
            return self.prompt
        return "\n".join(_content_text(m.get("content")) for m in self.prompt)


def _content_text(content: Any) -> str:
    """A message's text: the string, or the text parts of a list of parts."""
    if isinstance(content, list):
        return "\n".join(str(p.get("text") or "") for p in content if isinstance(p, Mapping))
    return "" if content is None else str(content)


def _number_map(value: Any, key: str, where: str, *, unit: bool) -> dict[str, float]:
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f"{where}: `{key}` must be a non-empty object of model -> number")
    out: dict[str, float] = {}
    for model, v in value.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"{where}: `{key}.{model}` must be a finite number, got {v!r}")
        if v < 0 or (unit and v > 1):
            bound = "in [0, 1]" if unit else ">= 0"
            raise ConfigError(f"{where}: `{key}.{model}` must be {bound}, got {v!r}")
        out[str(model)] = float(v)
    return out


def parse_outcome(row: Any, where: str, *, default_id: str = "") -> Outcome:
    """Check and convert one decoded row. ``where`` (e.g. ``file.jsonl:12``) prefixes errors."""
    if not isinstance(row, Mapping):
        raise ConfigError(f"{where}: each line must be a JSON object, got {type(row).__name__}")
    prompt = row.get("prompt")
    if isinstance(prompt, list):
        if not all(isinstance(m, Mapping) for m in prompt):
            raise ConfigError(f"{where}: `prompt` as a list must hold message objects")
        prompt_value: str | tuple[Mapping[str, Any], ...] = tuple(prompt)
    elif isinstance(prompt, str):
        prompt_value = prompt
    else:
        raise ConfigError(f"{where}: `prompt` is missing or not a string / list of messages")
    scores = _number_map(row.get("scores"), "scores", where, unit=True)
    costs = row.get("costs_usd")
    cost_map = _number_map(costs, "costs_usd", where, unit=False) if costs is not None else {}
    source = str(row.get("source") or "")
    group = row.get("subject") or row.get("category") or source
    responses = row.get("responses")
    if responses is not None and (not isinstance(responses, Mapping)
                                  or not all(isinstance(v, str) for v in responses.values())):
        raise ConfigError(f"{where}: `responses` must be an object of model -> answer text")
    return Outcome(
        id=str(row.get("id") or default_id),
        prompt=prompt_value,
        scores=scores,
        costs_usd=cost_map,
        source=source,
        group=str(group),
        task=str(row.get("task") or ""),
        responses={str(m): v for m, v in (responses or {}).items()},
    )


def _read_lines(path: Path) -> Iterable[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as fh:
            yield from enumerate(fh, start=1)
    except OSError as exc:
        raise ConfigError(f"cannot read outcome file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc


def load_outcomes(path: str | os.PathLike[str]) -> list[Outcome]:
    """Read an outcome file. Blank lines are skipped; any bad line raises naming ``file:line``."""
    p = Path(path)
    out: list[Outcome] = []
    for lineno, line in _read_lines(p):
        if not line.strip():
            continue
        where = f"{p}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: invalid JSON ({exc.msg})") from exc
        out.append(parse_outcome(row, where, default_id=f"{p.stem}-{lineno}"))
    if not out:
        raise ConfigError(f"{p}: no outcomes in the file")
    return out


def common_models(outcomes: Sequence[Outcome]) -> list[str]:
    """Models scored on every prompt, sorted."""
    if not outcomes:
        return []
    models = set(outcomes[0].scores)
    for o in outcomes[1:]:
        models &= o.scores.keys()
    return sorted(models)


def auto_pair(outcomes: Sequence[Outcome]) -> tuple[str, str]:
    """A strong/weak pair for a file: the best model by mean quality, and the worst model
    among those reaching at least 75 % of its quality (so that a useless model is not the
    weak side)."""
    models = common_models(outcomes)
    if len(models) < 2:
        raise ConfigError(
            "need at least two models scored on every prompt (one model's scores, such as feedback on "
            "the answers it gave, cannot tell which prompts need the stronger one)"
        )
    mean = {m: sum(o.scores[m] for o in outcomes) / len(outcomes) for m in models}
    strong = max(models, key=lambda m: (mean[m], m))
    rest = [m for m in models if m != strong and mean[m] >= 0.75 * mean[strong]]
    weak = min(rest or [m for m in models if m != strong], key=lambda m: (mean[m], m))
    return strong, weak
