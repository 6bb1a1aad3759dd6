"""Configuration: files, environment expansion, strict validation with paths and suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

from costroute import Client, ConfigError
from costroute.policies import load_config

from .conftest import SECRET, two_model_config

YAML = """
models:
  - name: openai/gpt-4o-mini
    quality: 0.62
    api_key: ${TEST_COSTROUTE_KEY}
  - name: openai/gpt-4o
    api_key: ${TEST_COSTROUTE_KEY}
tiers: {economy: 0.0, standard: 0.6, premium: 0.8}
policies:
  default:
    baseline: openai/gpt-4o
    thresholds: {standard: 0.4, premium: 0.7}
"""


def test_yaml_file_with_environment_secrets(tmp_path: Path, monkeypatch, ledger) -> None:
    monkeypatch.setenv("TEST_COSTROUTE_KEY", SECRET)
    path = tmp_path / "costroute.yaml"
    path.write_text(YAML)
    client = Client.from_config(str(path), ledger=ledger)
    assert client.config.models[0].api_key.get_secret_value() == SECRET
    assert client.config.models[1].quality is None  # filled from the bundled quality table
    assert SECRET not in repr(client) and SECRET not in repr(client.config) and SECRET not in str(client.config)


def test_toml_file(tmp_path: Path, ledger) -> None:
    path = tmp_path / "costroute.toml"
    path.write_text('[[models]]\nname = "openai/gpt-4o-mini"\n[[models]]\nname = "openai/gpt-4o"\n')
    assert [m.name for m in Client.from_config(path, ledger=ledger).config.models] == [
        "openai/gpt-4o-mini", "openai/gpt-4o"]


def test_errors_name_the_file_the_key_path_and_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  - name: openai/gpt-4o\n    qualty: 0.9\npolicies:\n  default:\n    baselin: x\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert str(path) in text
    assert "models[0].qualty: unknown key; did you mean quality?" in text
    assert "policies.default.baselin: unknown key; did you mean baseline?" in text
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize(("change", "where", "words"), [
    (lambda c: c["models"][0].update(quality=1.5), "models[0].quality", "less than or equal to 1"),
    (lambda c: c["models"][0].update(price={"input_per_mtok": "-1", "output_per_mtok": 1}),
     "models[0].price.input_per_mtok", "greater than or equal to 0"),
    (lambda c: c["policies"]["default"].update(baseline="openai/gpt-4x-typo"), "policies.default.baseline",
     "unknown model 'openai/gpt-4x-typo'"),
    (lambda c: c["policies"]["default"].update(thresholds={"standard": 0.9, "premium": 0.2}),
     "policies.default.thresholds.premium", "at least as high"),
    (lambda c: c["policies"]["default"].update(models=["openai/gpt4o"]), "policies.default.models[0]",
     "did you mean openai/gpt-4o"),
    (lambda c: c["policies"]["default"].update(thresholds={"premum": 0.5}),
     "policies.default.thresholds.premum", "did you mean premium"),
    (lambda c: c["policies"]["default"].update(
        fallbacks={"openai/gpt-4o": ["openai/gpt-4o-mini"], "openai/gpt-4o-mini": ["openai/gpt-4o"]}),
     "policies.default.fallbacks", "cycle"),
    (lambda c: c["models"].append(dict(c["models"][0])), "models[3].name", "listed twice"),
    (lambda c: c.update(policies={"defualt": {}}), "policies", "did you mean"),
    (lambda c: c.update(polices={}), "polices", "did you mean policies"),
    (lambda c: c["policies"]["default"].update(retry={"max_attempts": 0}),
     "policies.default.retry.max_attempts", "greater than or equal to 1"),
    (lambda c: c["models"][0].update(api_key="${SURELY_NOT_SET_COSTROUTE}"), "models[0].api_key",
     "SURELY_NOT_SET_COSTROUTE is not set"),
])
def test_invalid_configs(change, where: str, words: str, ledger) -> None:
    config = two_model_config()
    change(config)
    with pytest.raises(ConfigError) as caught:
        Client(config, ledger=ledger)
    locations = [loc for loc, _ in caught.value.problems] or [str(caught.value)]
    assert any(where in loc for loc in locations), caught.value
    assert words in str(caught.value)
    assert SECRET not in str(caught.value)


def test_unpriced_baseline_is_a_config_error(ledger) -> None:
    config = two_model_config()
    config["models"].append({"name": "acme/mystery-1", "quality": 0.99})
    config["policies"]["default"]["baseline"] = "acme/mystery-1"
    with pytest.raises(ConfigError, match=r"policies\.default\.baseline"):
        Client(config, ledger=ledger)


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("models: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_default_client_uses_the_providers_with_keys(monkeypatch, ledger) -> None:
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GROQ_API_KEY",
                "DEEPSEEK_API_KEY", "COSTROUTE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match="no provider key"):
        Client(ledger=ledger)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    client = Client(ledger=ledger)
    assert {m.name.split("/")[0] for m in client.config.models} == {"anthropic"}
    easy = client.route([{"role": "user", "content": "Hi! What's 2+2?"}])
    assert easy.model == "anthropic/claude-haiku-4-5"


def test_a_classifier_that_cannot_be_loaded_is_a_config_error(tmp_path: Path, ledger) -> None:
    config = two_model_config(classifier=str(tmp_path / "missing.json.gz"))
    with pytest.raises(ConfigError) as caught:
        Client(config, ledger=ledger)
    assert caught.value.problems[0][0] == "policies.default.classifier"
    assert "missing.json.gz" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("broken.yaml", f"models:\n  - name: openai/gpt-4o\n    api_key: {SECRET}: oops\n"),
        ("broken.toml", f'[[models]]\nname = "openai/gpt-4o"\napi_key = "{SECRET}\n'),
        ("broken.json", f'{{"models": [{{"name": "openai/gpt-4o", "api_key": "{SECRET}"}}, ]}}'),
    ],
)
def test_a_syntax_error_names_the_place_but_never_quotes_the_file(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match="line") as caught:
        load_config(path)
    assert SECRET not in str(caught.value) and str(path) in str(caught.value)


def test_a_variable_default_also_replaces_an_empty_variable(monkeypatch) -> None:
    monkeypatch.setenv("EMPTY_KEY", "")
    config = two_model_config()
    config["models"][0]["api_key"] = "${EMPTY_KEY:-sk-fallback}"
    loaded = load_config(config)
    assert loaded.models[0].api_key is not None and loaded.models[0].api_key.get_secret_value() == "sk-fallback"


def test_a_pinned_alias_uses_the_configured_models_key_and_base(ledger) -> None:
    config = two_model_config()
    spec = config["models"][0]
    spec.update(api_base="https://proxy.internal/v1", extra_params={"user": "team-a"})
    client = Client(config, ledger=ledger)
    short = spec["name"].split("/", 1)[1]
    for spelling in (spec["name"], short, spec["name"].upper()):
        plan = client._engine.plan({"messages": [{"role": "user", "content": "hi"}], "model": spelling})
        call = client._engine.call_for(plan, plan.decision.model)
        assert plan.decision.model == spec["name"] and call.api_base == "https://proxy.internal/v1"
        assert call.api_key is not None and call.params["user"] == "team-a"


def test_policy_providers_match_the_model_name_prefix(ledger) -> None:
    config = {"models": [{"name": "vertex_ai/gemini-2.5-pro", "quality": 0.9},
                         {"name": "openai/gpt-4o-mini", "quality": 0.6}],
              "policies": {"default": {"providers": ["vertex_ai"]}}}
    assert Client(config, ledger=ledger).route([{"role": "user", "content": "hi"}]).model == "vertex_ai/gemini-2.5-pro"
    config["policies"]["default"]["providers"] = ["opneai"]
    with pytest.raises(ConfigError, match=r"policies\.default\.providers"):
        Client(config, ledger=ledger)


def test_a_config_price_restating_the_list_price_keeps_cache_and_long_context_prices(ledger) -> None:
    def sheet(name: str, price: dict):
        client = Client({"models": [{"name": name, "quality": 0.9, "price": price}]}, ledger=ledger)
        return client._engine.catalog.candidate(name).sheet

    listed = sheet("openai/gpt-4o", {"input_per_mtok": "2.50", "output_per_mtok": "10.00"})
    assert listed.source == "config" and listed.cached_input_per_mtok is not None
    assert listed.cached_input_per_mtok < listed.input_per_mtok
    assert sheet("gemini/gemini-2.5-pro", {"input_per_mtok": "1.25", "output_per_mtok": "10"}).tiers
    negotiated = sheet("openai/gpt-4o", {"input_per_mtok": "2.00", "output_per_mtok": "8.00"})
    assert negotiated.cached_input_per_mtok is None and not negotiated.tiers  # taken as given


def test_one_model_under_two_spellings_is_refused(ledger) -> None:
    config = {"models": [{"name": "openai/gpt-4o", "quality": 0.9}, {"name": "gpt-4o", "quality": 0.9}]}
    with pytest.raises(ConfigError, match=r"models\[1\]\.name.*another spelling"):
        Client(config, ledger=ledger)


def test_price_files_are_found_next_to_the_config_that_names_them(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "prices.yaml").write_text("acme/house-model: {input_per_mtok: 1, output_per_mtok: 2}\n")
    (folder / "costroute.yaml").write_text(
        "price_files: [prices.yaml]\nmodels:\n  - {name: acme/house-model, quality: 0.7}\n")
    monkeypatch.chdir(tmp_path)  # somewhere else
    client = Client(folder / "costroute.yaml")
    assert client._engine.catalog.candidate("acme/house-model").sheet is not None


def test_a_base_url_with_credentials_stays_out_of_reprs() -> None:
    config = two_model_config()
    config["models"][0]["api_base"] = "https://user:hunter2-pass@proxy.internal/v1"
    assert "hunter2-pass" not in repr(load_config(config))


def test_a_pinned_model_reports_its_own_tier(ledger) -> None:
    client = Client(two_model_config(), ledger=ledger)
    decision = client.route([{"role": "user", "content": "Hi!"}], model="openai/gpt-4o")  # quality 0.85
    assert decision.pinned and decision.required_tier == "economy"
    assert decision.tier == client._engine._tier_of(0.85) != "economy"
