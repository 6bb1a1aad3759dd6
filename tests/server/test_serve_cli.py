"""``costroute serve``: what it refuses before anything listens."""

from __future__ import annotations

import importlib.util

import pytest
from typer.testing import CliRunner

from costroute import ConfigError
from costroute.cli import app
from costroute.cli._serve import check_serve, is_loopback
from costroute.policies import load_config


def _config(**extra) -> object:
    return load_config({"models": [{"name": "openai/m", "api_key": "sk-x", "quality": 0.5,
                                    "price": {"input_per_mtok": 1, "output_per_mtok": 1}}], **extra})


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                                ("[::1]", True), ("localhost", True), ("0.0.0.0", False),
                                                ("::", False), ("192.168.1.4", False), ("example.com", False)])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_any_non_loopback_host_needs_keys() -> None:
    with pytest.raises(ConfigError, match=r"refusing to listen on '0\.0\.0\.0' without virtual keys"):
        check_serve(_config(), host="0.0.0.0", workers=1)
    check_serve(_config(), host="127.0.0.1", workers=1)
    check_serve(_config(server={"keys": [{"key": "k" * 12}]}), host="0.0.0.0", workers=1)


def test_several_workers_refuse_memory_backends() -> None:
    with pytest.raises(ConfigError, match="ledger, budget_store, cache use the memory backend"):
        check_serve(_config(ledger={"backend": "memory"}, budgets=[{"name": "b", "limit_usd": 1}],
                            budget_store={"backend": "memory"}), host="127.0.0.1", workers=2)
    with pytest.raises(ConfigError, match="cache uses the memory backend"):
        check_serve(_config(), host="127.0.0.1", workers=2)
    check_serve(_config(cache={"enabled": False}), host="127.0.0.1", workers=2)
    check_serve(_config(ledger={"backend": "memory"}), host="127.0.0.1", workers=1)


def test_cli_refuses_0000_without_keys_with_a_clear_message(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("models:\n  - {name: openai/m, api_key: sk-x, quality: 0.5, "
                    "price: {input_per_mtok: 1, output_per_mtok: 1}}\n")
    result = CliRunner().invoke(app, ["serve", "--config", str(path), "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "without virtual keys" in result.output


def test_cli_without_the_extra_names_it(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    result = CliRunner().invoke(app, ["serve", "--config", str(tmp_path / "none.yaml")])
    assert result.exit_code == 1
    assert "pip install 'costroute[server]'" in result.output and "uvicorn" in result.output
