"""Loading configuration: files (YAML, TOML, JSON) or dicts, ``${VAR}`` expansion, strict checks.

Every problem becomes one :class:`~costroute.ConfigError` that lists each bad key by its path
(``policies.default.baseline``), names the file, and suggests close matches for misspellings.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .._errors import ConfigError
from .._files import key_path, read_structured
from ._schema import CostrouteConfig

__all__ = ["ConfigSource", "load_config"]

ConfigSource = str | os.PathLike[str] | Mapping[str, Any] | CostrouteConfig

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_config(
    source: ConfigSource, *, environ: Mapping[str, str] | None = None
) -> CostrouteConfig:
    """Read, expand and validate a configuration. ``environ`` defaults to ``os.environ``."""
    if isinstance(source, CostrouteConfig):
        return source
    where = ""
    if isinstance(source, Mapping):
        raw: Any = dict(source)
    else:
        path = Path(source)
        where = f" in {path}"
        raw = read_structured(path, what="configuration file")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"the configuration{where} must be a mapping at the top level")
    env = os.environ if environ is None else environ
    _check_size(raw, where)
    problems: list[tuple[str, str]] = []
    expanded = _expand(raw, env, (), problems)
    if where and isinstance(expanded.get("price_files"), list):  # relative to the file that names them
        base = Path(source).parent  # type: ignore[arg-type]
        expanded["price_files"] = [str(base / f) if isinstance(f, str) else f for f in expanded["price_files"]]
    if problems:
        raise _error(problems, where)
    try:
        config = CostrouteConfig.model_validate(expanded)
    except ValidationError as exc:
        raise _error(list(_pydantic_problems(exc)), where) from None
    problems = list(check_references(config))
    if problems:
        raise _error(problems, where)
    return config


#: The most values a configuration may hold once its YAML aliases are expanded (a real one holds
#: hundreds; a few kilobytes of nested aliases can stand for billions).
MAX_VALUES = 100_000


def _check_size(raw: Any, where: str) -> None:
    """Refuse a configuration whose aliases expand beyond :data:`MAX_VALUES` values, or refer to
    themselves, before anything walks it: sizes are counted once per distinct node."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any) -> int:
        if not isinstance(node, Mapping | list):
            return 1
        ident = id(node)
        if ident in sizes:
            return sizes[ident]
        if ident in active:
            raise ConfigError(f"the configuration{where} refers to itself (a YAML alias inside its own anchor)")
        active.add(ident)
        children = node.values() if isinstance(node, Mapping) else node
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_VALUES:
                raise ConfigError(f"the configuration{where} expands to more than {MAX_VALUES:,} values "
                                  "(nested YAML aliases?)")
        active.discard(ident)
        sizes[ident] = total
        return total

    try:
        size(raw)
    except RecursionError:
        raise ConfigError(f"the configuration{where} nests too deeply") from None


def _expand(value: Any, env: Mapping[str, str], loc: tuple[Any, ...], problems: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if env.get(name):
                return env[name]
            if default is not None:  # as in the shell, ${X:-d} also replaces an empty X
                return default
            if name in env:
                return ""
            problems.append((key_path(loc), f"environment variable {name} is not set"))
            return ""

        return _ENV.sub(sub, value)
    if isinstance(value, Mapping):
        return {k: _expand(v, env, (*loc, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, (*loc, i), problems) for i, v in enumerate(value)]
    return value


def _error(problems: list[tuple[str, str]], where: str) -> ConfigError:
    lines = "\n".join(f"  {loc}: {msg}" for loc, msg in problems)
    count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
    return ConfigError(f"invalid costroute configuration{where} ({count}):\n{lines}", problems=problems)


def _pydantic_problems(exc: ValidationError) -> Iterator[tuple[str, str]]:
    for err in exc.errors(include_url=False, include_input=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            known = _fields_at(CostrouteConfig, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=3, cutoff=0.6)
            message = "unknown key" + (f"; did you mean {', '.join(close)}?" if close else "")
            if known and not close:
                message += f" (expected one of: {', '.join(sorted(known))})"
        elif "secret" in message.lower():
            message = "invalid secret"
        yield key_path(loc), message


def _fields_at(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The field names (and aliases) of the model reached by following ``loc`` through the schema."""
    current: Any = model
    for part in loc:
        while get_origin(current) is not None and not isinstance(part, str | int):
            current = get_args(current)[0]
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            if field is None:
                return []
            current = field.annotation
        else:
            current = _element_type(current)
        current = _unwrap_optional(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _element_type(tp: Any) -> Any:
    args = [a for a in get_args(tp) if a is not type(None)]
    return args[-1] if args else None


def _unwrap_optional(tp: Any) -> Any:
    args = [a for a in get_args(tp) if a is not type(None)]
    if get_origin(tp) is not None and len(args) == 1 and get_origin(tp) not in (list, dict):
        return args[0]
    return tp


def check_references(config: CostrouteConfig) -> Iterator[tuple[str, str]]:
    """Cross-field checks: every model a policy (or its cascade) names exists, tiers exist,
    fallbacks are acyclic."""
    names = [m.name for m in config.models]
    known = set(names)
    for i, name in enumerate(names):
        if name in names[:i]:
            yield f"models[{i}].name", f"model {name!r} is listed twice (also models[{names.index(name)}])"
    if "default" not in config.policies:
        close = difflib.get_close_matches("default", list(config.policies), n=1, cutoff=0.6)
        hint = f"; did you mean to name {close[0]!r} 'default'?" if close else ""
        yield "policies", f"a policy named 'default' is required{hint}"
    budgets = [b.name for b in config.budgets]
    for i, name in enumerate(budgets):
        if name in budgets[:i]:
            yield f"budgets[{i}].name", f"budget name {name!r} is used twice"

    def unknown(model: str, loc: str) -> Iterator[tuple[str, str]]:
        if known and model not in known:
            close = difflib.get_close_matches(model, names, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            yield loc, f"unknown model {model!r} (not listed under `models`){hint}"

    def listed(model: str, loc: str) -> Iterator[tuple[str, str]]:
        if model not in known:  # a cascade (or shadow) names its models itself: they must be in the pool
            close = difflib.get_close_matches(model, names, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            yield loc, f"unknown model {model!r} (the models it names must be listed under `models`){hint}"

    for pname, policy in config.policies.items():
        base = f"policies.{pname}"
        if policy.cascade is not None:
            for loc, model in policy.cascade.named_models():
                yield from listed(model, f"{base}.cascade.{loc}")
        if policy.shadow is not None:
            yield from listed(policy.shadow.reference, f"{base}.shadow.reference")
            if policy.shadow.judge is not None:
                yield from listed(policy.shadow.judge, f"{base}.shadow.judge")
        for i, model in enumerate(policy.models or []):
            yield from unknown(model, f"{base}.models[{i}]")
        if policy.baseline is not None:
            yield from unknown(policy.baseline, f"{base}.baseline")
        yield from _threshold_order(policy.thresholds or {}, config.tiers, base)
        for tier in policy.thresholds or {}:
            if tier not in config.tiers:
                close = difflib.get_close_matches(tier, list(config.tiers), n=2, cutoff=0.5)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                yield f"{base}.thresholds.{tier}", f"unknown tier {tier!r}{hint}"
        for src, targets in policy.fallbacks.items():
            yield from unknown(src, f"{base}.fallbacks.{src}")
            for i, target in enumerate(targets):
                yield from unknown(target, f"{base}.fallbacks.{src}[{i}]")
        cycle = _find_cycle(policy.fallbacks)
        if cycle:
            yield f"{base}.fallbacks", "fallbacks form a cycle: " + " -> ".join(cycle)
    yield from _server_references(config)


def _server_references(config: CostrouteConfig) -> Iterator[tuple[str, str]]:
    """Every policy a virtual key names exists; no key is listed twice."""
    seen: dict[str, int] = {}
    for i, key in enumerate(config.server.keys):
        for j, name in enumerate(key.policies or []):
            if name not in config.policies:
                yield (f"server.keys[{i}].policies[{j}]",
                       f"unknown policy {name!r} (configured: {', '.join(sorted(config.policies))})")
        digest = (key.key_sha256.lower() if key.key_sha256 is not None else
                  hashlib.sha256(key.key.get_secret_value().encode()).hexdigest() if key.key is not None else "")
        if digest in seen:
            yield f"server.keys[{i}]", f"the same key as server.keys[{seen[digest]}]"
        seen.setdefault(digest, i)


def _threshold_order(
    thresholds: Mapping[str, float], tiers: Mapping[str, float], base: str
) -> Iterator[tuple[str, str]]:
    """A more demanding tier must not start below a less demanding one (it would never be chosen)."""
    ordered = sorted((t for t in thresholds if t in tiers), key=lambda t: tiers[t])
    for lower, higher in itertools.pairwise(ordered):
        if thresholds[higher] < thresholds[lower]:
            yield (f"{base}.thresholds.{higher}",
                   f"{thresholds[higher]} is below {lower}'s {thresholds[lower]}: tier {higher!r} needs more "
                   f"quality than {lower!r}, so its threshold must be at least as high")


def _find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in graph:
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None
