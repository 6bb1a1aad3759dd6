"""``costroute config schema`` and ``costroute config check FILE``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from costroute.cli import app
from costroute.cli._config import config_schema, shipped_schema_path

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_config() -> dict[str, object]:
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S) if "models:" in b]
    loaded = yaml.safe_load(block)
    assert isinstance(loaded, dict)
    return loaded


def test_schema_is_a_json_schema_of_the_config(runner: CliRunner) -> None:
    result = runner.invoke(app, ["config", "schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["title"] == "costroute configuration" and schema["additionalProperties"] is False
    assert {"models", "policies", "tiers", "budgets", "ledger", "cache"} <= set(schema["properties"])
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(_readme_config()))  # the README's example is valid
    bad = {"models": [{"name": "openai/gpt-4o", "qualty": 0.8}]}
    [error] = list(validator.iter_errors(bad))
    assert "qualty" in error.message
    assert list(validator.iter_errors({"ledger": {"backend": "mongodb"}}))


def test_the_shipped_schema_file_is_current() -> None:
    shipped = json.loads(shipped_schema_path().read_text(encoding="utf-8"))
    assert shipped == config_schema(), (
        "src/costroute/policies/config.schema.json is stale: regenerate it with "
        "`costroute config schema -o src/costroute/policies/config.schema.json`"
    )


def test_schema_path_and_output(runner: CliRunner, tmp_path: Path) -> None:
    where = runner.invoke(app, ["config", "schema", "--path"])
    assert where.exit_code == 0 and Path(where.stdout.strip()) == shipped_schema_path()
    assert shipped_schema_path().is_file()
    out = tmp_path / "costroute.schema.json"
    written = runner.invoke(app, ["config", "schema", "-o", str(out)])
    assert written.exit_code == 0, written.output
    assert json.loads(out.read_text()) == config_schema()
    assert "yaml-language-server: $schema=" in written.output


@pytest.fixture()
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-config-check-000000")
    monkeypatch.delenv("COLUMNS", raising=False)
    path = tmp_path / "costroute.yaml"
    path.write_text(
        "models:\n"
        "  - {name: openai/gpt-4o-mini, api_key: '${OPENAI_API_KEY}'}\n"
        "  - {name: openai/gpt-4o, quality: 0.85, price: {input_per_mtok: 2.40, output_per_mtok: 9.50}}\n"
        "policies:\n"
        "  default: {baseline: openai/gpt-4o, fallbacks: {openai/gpt-4o-mini: [openai/gpt-4o]}}\n"
        "  cheap: {models: [openai/gpt-4o-mini], thresholds: {standard: 0.5, premium: 0.9}}\n"
        "budgets:\n  - {name: monthly, limit_usd: 5, period: month}\n"
    )
    return path


def test_check_prints_the_resolved_pool_and_policies(runner: CliRunner, config_file: Path) -> None:
    result = runner.invoke(app, ["config", "check", str(config_file), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    models = {m["model"]: m for m in data["models"]}
    expected = {"quality": 0.85, "quality_from": "config", "tier": "premium", "input_per_mtok": "2.4",
                "output_per_mtok": "9.5", "price_from": "config"}
    assert {k: models["openai/gpt-4o"][k] for k in expected} == expected
    mini = models["openai/gpt-4o-mini"]
    assert mini["quality_from"] == "bundled table" and mini["tier"] == "standard"
    assert float(mini["input_per_mtok"]) > 0 and mini["price_from"] != "config"
    policies = {p["policy"]: p for p in data["policies"]}
    assert policies["default"]["thresholds"] == {"economy": 0.0, "standard": 0.35, "premium": 0.65}
    assert policies["default"]["thresholds_from"] == "default" and policies["default"]["baseline"] == "openai/gpt-4o"
    assert policies["default"]["members"] == ["openai/gpt-4o-mini", "openai/gpt-4o"]
    assert policies["default"]["fallbacks"] == {"openai/gpt-4o-mini": ["openai/gpt-4o"]}
    assert policies["cheap"]["members"] == ["openai/gpt-4o-mini"]
    assert policies["cheap"]["baseline"] == "openai/gpt-4o-mini" and policies["cheap"]["thresholds_from"] == "config"
    assert data["budgets"] == ["monthly"]
    assert "sk-config-check" not in result.output

    table = runner.invoke(app, ["config", "check", str(config_file)])
    assert table.exit_code == 0, table.output
    for text in ("is a valid costroute configuration", "openai/gpt-4o-mini", "$2.40", "$9.50", "premium",
                 "policy default", "baseline openai/gpt-4o", "premium from 0.65", "policy cheap",
                 "premium from 0.9", "members: openai/gpt-4o-mini", "fallbacks of openai/gpt-4o-mini"):
        assert text in table.stdout, text
    assert "sk-config-check" not in table.output


@pytest.mark.parametrize(("text", "where"), [
    ("models: [{name: openai/gpt-4o, qualty: 0.8}]\n", "models[0].qualty"),
    ("models: [{name: openai/gpt-4o}]\npolicies: {default: {baseline: openai/gpt-5}}\n",
     "policies.default.baseline"),
    ("models: [{name: someone/unknown-model-x}]\n", "models[0].quality"),
    ("models: [{name: openai/gpt-4o, api_key: '${COSTROUTE_TEST_UNSET_KEY}'}]\n", "COSTROUTE_TEST_UNSET_KEY"),
])
def test_check_names_what_is_wrong(runner: CliRunner, tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert where in result.output and "Traceback" not in result.output
