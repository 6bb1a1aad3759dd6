"""MkDocs hooks for costroute's site (``hooks:`` in ``mkdocs.yml``).

* Pages other branches are still writing (:data:`PLANNED`) keep their nav entries; until a page
  exists its entry is left out, so ``mkdocs build --strict`` passes meanwhile. Any other missing
  page is still an error.
* ``reference/configuration.md`` is generated from the configuration's JSON Schema on every build
  (:func:`config_reference`), so it cannot fall behind the pydantic models; the schema itself is
  published next to it as ``costroute.schema.json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

PLANNED = frozenset({"pricing.md", "cascades.md", "batch.md", "server.md"})
REFERENCE = "reference/configuration.md"
SCHEMA = "costroute.schema.json"


def _pruned(nav: list[Any], docs: Path) -> list[Any]:
    out: list[Any] = []
    for item in nav:
        if isinstance(item, dict):
            [(title, value)] = item.items()
            if isinstance(value, list):
                value = _pruned(value, docs)
                if not value:
                    continue
            elif isinstance(value, str) and value in PLANNED and not (docs / value).is_file():
                continue
            out.append({title: value})
        elif not (isinstance(item, str) and item in PLANNED and not (docs / item).is_file()):
            out.append(item)
    return out


def on_config(config: Any) -> Any:
    config["nav"] = _pruned(config["nav"], Path(config["docs_dir"]))
    return config


# -- the configuration reference -------------------------------------------------------------------


def _ref(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _type(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    """A short human form of a JSON Schema type."""
    if name := _ref(schema):
        return f"[{name}](#{name.lower()})"
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [_type(s, defs) for s in schema[key]]
            if schema.get("format") == "password" or any(s.get("format") == "password" for s in schema[key]):
                parts = ["secret string" if p == "string" else p for p in parts]
            return " or ".join(dict.fromkeys(p for p in parts if p != "null")) + (
                " or null" if "null" in parts else "")
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}), defs)}"
    if kind == "object":
        values = schema.get("additionalProperties")
        return f"mapping of string to {_type(values, defs)}" if isinstance(values, dict) else "mapping"
    if kind == "string" and schema.get("format") == "password":
        return "secret string"
    if kind == "string" and "pattern" in schema:
        return "decimal string"
    return str(kind or "any")


def _constraints(schema: Mapping[str, Any]) -> str:
    bounds = []
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"),
                      ("minLength", "length ≥")):
        for part in [schema, *schema.get("anyOf", [])]:
            if key in part:
                bounds.append(f"{sign} {part[key]}")
    return ", ".join(dict.fromkeys(bounds))


def _default(schema: Mapping[str, Any]) -> str:
    if "default" not in schema:
        return "**required**"
    return f"`{json.dumps(schema['default'], separators=(', ', ': '))}`"


def _section(name: str, schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Iterator[str]:
    yield f"## {name}"
    yield ""
    if schema.get("description"):
        yield " ".join(str(schema["description"]).split())
        yield ""
    yield "| key | type | default | constraints |"
    yield "|---|---|---|---|"
    for key, prop in schema.get("properties", {}).items():
        yield f"| `{key}` | {_type(prop, defs)} | {_default(prop)} | {_constraints(prop)} |"
    yield ""


def config_reference(schema: Mapping[str, Any]) -> str:
    """The reference page: one table per model of the schema, the top level first."""
    defs = schema.get("$defs", {})
    lines = [
        "# Configuration keys",
        "",
        "Generated from the configuration's JSON Schema on every build (`costroute config schema` prints the",
        f"same schema; [download it]({'../' + SCHEMA}) for your editor). What each key means is explained in",
        "[Configuration](../configuration.md). Unknown keys are errors; `${VAR}` and `${VAR:-default}` in",
        "any string are read from the environment when the file is loaded.",
        "",
    ]
    lines += _section("costroute configuration (top level)", schema, defs)
    for name in sorted(defs):
        lines += _section(name, defs[name], defs)
    return "\n".join(lines)


def _schema() -> dict[str, Any]:
    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "src"))  # the checkout's costroute, installed or not
    from costroute.cli._config import config_schema

    return config_schema()


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    schema = _schema()
    files.append(File.generated(config, REFERENCE, content=config_reference(schema)))
    files.append(File.generated(config, SCHEMA, content=json.dumps(schema, indent=2, sort_keys=True) + "\n"))
    return files
