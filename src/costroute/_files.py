"""Reading the structured files costroute accepts (configs, price files), and naming key paths."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from ._errors import ConfigError

__all__ = ["key_path", "read_structured"]


def key_path(loc: Sequence[Any]) -> str:
    """``("models", 0, "price")`` -> ``models[0].price``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def read_structured(path: Path, *, what: str, formats: Sequence[str] = (".yaml", ".yml", ".toml", ".json")) -> Any:
    """Parse a YAML (safely), TOML or JSON file; every failure is a ``ConfigError`` naming it.
    JSON numbers with a fraction are read as ``Decimal`` so prices stay exact."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        problem = f"{what} {path} is not UTF-8 text (byte {exc.start} cannot be decoded)"
    else:
        problem = ""
    if problem:  # raised outside the handler: the undecodable bytes stay out of the error chain
        raise ConfigError(problem)
    suffix = path.suffix.lower()
    if suffix not in formats:
        raise ConfigError(f"{path}: unsupported format {suffix!r} for a {what} (use {', '.join(formats)})")
    try:
        if suffix in (".yaml", ".yml"):
            return yaml.safe_load(text) or {}
        if suffix == ".toml":
            return tomllib.loads(text)
        return json.loads(text, parse_float=Decimal)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        # the problem and its position only: parsers quote the offending line (and keep the whole
        # text, e.g. JSONDecodeError.doc), which may hold a key
        problem = f"{what} {path} is not valid {suffix[1:].upper()}: {_where(exc)}"
    raise ConfigError(problem)  # outside the handler, so the parser's error is not its __context__


def _where(exc: Exception) -> str:
    """A parse error's problem and position, without the source text parsers quote."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"{exc.problem or exc.context or 'syntax error'}{at}"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    if isinstance(exc, tomllib.TOMLDecodeError):
        return str(exc).splitlines()[0]  # "<problem> (at line L, column C)": no source text
    return "syntax error"
