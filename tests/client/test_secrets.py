"""Secrets survive in no error a caller can keep: not in messages, not in chained exceptions, not in
the HTTP objects they hold, not in the locals of their frames, not in config dumps."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from costroute import AuthenticationError, Client, ConfigError, ProviderConnectionError
from costroute.policies import load_config

from .conftest import EASY, OPENAI_BASE, two_model_config

SENTINEL = "sk-sentinel-9f2c41d7e0b3"
PASSWORD = "pw-sentinel-51c0"


def _reachable_strings(root: BaseException, limit: int = 4, *, frames: bool = True) -> list[str]:
    """Every string reachable from an exception: its chain, arguments, attributes (into dicts,
    lists and objects' ``__dict__``) and its frames' locals (but this test file's own), a few levels
    deep. ``SecretStr`` values are skipped: they are the one place a secret is meant to be, masked
    in every repr."""
    found: list[str] = []
    seen: set[int] = set()

    def visit(value: Any, depth: int) -> None:
        if id(value) in seen or depth > limit or isinstance(value, SecretStr | type | type(socket)):
            return
        seen.add(id(value))
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, bytes):
            found.append(value.decode("utf-8", "replace"))
        elif isinstance(value, dict):
            for k, v in value.items():
                visit(k, depth + 1)
                visit(v, depth + 1)
        elif isinstance(value, list | tuple | set | frozenset):
            for v in value:
                visit(v, depth + 1)
        elif isinstance(value, BaseException):
            visit(value.args, depth)
            visit(value.__cause__, depth)
            visit(value.__context__, depth)
            tb = value.__traceback__ if frames else None  # (a file's reader holds its text as a local)
            while tb is not None:
                if tb.tb_frame.f_code.co_filename != __file__:
                    visit(tb.tb_frame.f_locals, depth + 1)
                tb = tb.tb_next
            visit(getattr(value, "__dict__", {}), depth + 1)
        elif hasattr(value, "__dict__") and not callable(value):
            visit(vars(value), depth + 1)

    visit(root, 0)
    return found


@respx.mock
def test_a_key_echoed_by_the_provider_is_reachable_from_no_error(ledger) -> None:
    config = two_model_config(models=["openai/gpt-4o-mini", "openai/gpt-4o"])
    for model in config["models"]:
        model["api_key"] = SENTINEL
    echo = {"error": {"message": f"Incorrect API key provided: Bearer {SENTINEL}", "type": "invalid_request_error",
                      "headers": {"authorization": f"Bearer {SENTINEL}"}}}
    respx.post(f"{OPENAI_BASE}/chat/completions").mock(return_value=httpx.Response(401, json=echo))
    with Client(config, ledger=ledger, sleep=lambda s: None) as client, pytest.raises(AuthenticationError) as caught:
        client.chat.completions.create(messages=EASY)
    strings = _reachable_strings(caught.value)
    assert len(strings) > 20  # the walk really went through the chain
    assert not [s for s in strings if SENTINEL in s]
    assert caught.value.__cause__ is not None  # the provider's exception is still there to debug


def test_a_base_url_password_is_reachable_from_no_error(ledger) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {"models": [{"name": "openai/cheap", "api_base": f"http://user:{PASSWORD}@127.0.0.1:{port}/v1",
                          "api_key": SENTINEL, "quality": 0.5, "price": {"input_per_mtok": 1, "output_per_mtok": 2}}],
              "policies": {"default": {"retry": {"attempts_per_model": 1}}}}
    with Client(config, ledger=ledger) as client, pytest.raises(ProviderConnectionError) as caught:
        client.chat.completions.create(messages=EASY)
    assert not [s for s in _reachable_strings(caught.value) if PASSWORD in s or SENTINEL in s]
    assert all(PASSWORD not in r.error for r in ledger.records())


def test_config_dumps_hold_no_base_url_password() -> None:
    config = load_config({"models": [{"name": "openai/x", "api_base": f"https://bob:{PASSWORD}@llm.example/v1",
                                      "api_key": SENTINEL}]})
    assert config.models[0].api_base == f"https://bob:{PASSWORD}@llm.example/v1"  # still usable
    assert PASSWORD not in str(config.model_dump()) and PASSWORD not in config.model_dump_json()
    assert SENTINEL not in config.model_dump_json() and "bob:***@llm.example" in config.model_dump_json()


def test_a_config_syntax_error_keeps_no_copy_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "costroute.json"
    path.write_text('{"models": [{"name": "openai/x", "api_key": "' + SENTINEL + '"},, ]}')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "line 1" in str(caught.value) and caught.value.__context__ is None and caught.value.__cause__ is None
    assert not [s for s in _reachable_strings(caught.value, frames=False) if SENTINEL in s]


@pytest.mark.parametrize("name", ["costroute.yaml", "prices.yaml"])
def test_a_binary_file_is_a_config_error_naming_it(tmp_path: Path, name: str) -> None:
    binary = tmp_path / name
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00" + SENTINEL.encode())
    source: Any = binary
    if name == "prices.yaml":
        source = tmp_path / "costroute.yaml"
        source.write_text("price_files: [prices.yaml]\nmodels: [{name: openai/gpt-4o-mini}]\n")
    with pytest.raises(ConfigError) as caught:
        Client(source)
    assert str(binary) in str(caught.value) and "UTF-8" in str(caught.value)
    assert not [s for s in _reachable_strings(caught.value, frames=False) if SENTINEL in s]


def test_nested_aliases_are_refused_before_they_expand(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["${HOME}", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
              f"*a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    lines.append("models: *a8")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines))
    assert path.stat().st_size < 1000
    with pytest.raises(ConfigError, match="expands to more than 100,000 values"):
        load_config(path)


def test_a_self_referring_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("models: &m [*m]\n")
    with pytest.raises(ConfigError, match="refers to itself"):
        load_config(path)
