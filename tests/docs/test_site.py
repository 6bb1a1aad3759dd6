"""The documentation site: builds with warnings as errors, its configuration reference is the
schema's, and no page points at files a user does not have."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from costroute.cli._config import config_schema

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: Pages whose pointers at repository files are being fixed by their owners (remove when merged).
OWNED_ELSEWHERE = {"routing.md"}


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("costroute_docs_hooks", DOCS / "hooks" / "site.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_site_builds_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    site = tmp_path / "site"
    reference = (site / "reference" / "configuration" / "index.html").read_text()
    assert "max_output_tokens" in reference and "ModelConfig" in reference
    api = (site / "reference" / "api" / "index.html").read_text()
    for name in ("Client", "AsyncClient", "RouteInfo", "Decision", "Stream", "CostrouteError", "FakeOpenAIServer"):
        assert 'id="costroute.' in api and f">{name}<" in api, name
    assert ":class:" not in api  # Sphinx roles are rewritten for Markdown
    assert (site / "costroute.schema.json").is_file()


def _keys(schema: dict[str, Any]) -> set[tuple[str, str]]:
    defs = schema.get("$defs", {})
    out = {("costroute configuration (top level)", k) for k in schema["properties"]}
    for name, d in defs.items():
        out |= {(name, k) for k in d.get("properties", {})}
    return out


def test_the_configuration_reference_has_every_key_of_the_schema() -> None:
    schema = config_schema()
    page = _hooks().config_reference(schema)
    sections = dict(re.findall(r"^## (.+?)\n(.*?)(?=^## |\Z)", page, flags=re.S | re.M))
    for section, key in _keys(schema):
        assert f"| `{key}` |" in sections[section], (section, key)
    assert "| `name` | string | **required** |" in sections["ModelConfig"]
    assert "[ModelPrice](#modelprice)" in sections["ModelConfig"]


def test_planned_pages_wait_in_the_nav_but_other_missing_pages_do_not(tmp_path: Path) -> None:
    hooks = _hooks()
    (tmp_path / "here.md").write_text("# here")
    nav = [{"Home": "here.md"}, {"Guides": [{"Server": "server.md"}, {"Typo": "typo.md"}]},
           {"Planned only": [{"Batch": "batch.md"}]}]
    assert hooks._pruned(nav, tmp_path) == [{"Home": "here.md"}, {"Guides": [{"Typo": "typo.md"}]}]
    (tmp_path / "server.md").write_text("# server")
    assert {"Server": "server.md"} in hooks._pruned(nav, tmp_path)[1]["Guides"]


def test_no_page_points_at_files_a_user_does_not_have() -> None:
    repository_only = re.compile(r"\.\./shared|/work/|(?<![\w.])src/costroute|(?<![\w/])tests/")
    for page in sorted(DOCS.glob("*.md")):
        if page.name in OWNED_ELSEWHERE:
            continue
        for line in page.read_text(encoding="utf-8").splitlines():
            assert not repository_only.search(line), f"{page.name}: {line}"
            if re.search(r"(?<![\w/])(benchmarks|scripts)/", line):
                assert "clone of the repository" in line or "in a clone" in page.read_text(), f"{page.name}: {line}"
