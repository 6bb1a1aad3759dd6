"""The package's public surface: cheap to import, complete and sorted exports."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import costroute


def test_import_does_not_load_litellm_or_tiktoken_or_touch_the_network() -> None:
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise RuntimeError('network touched at import')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "import costroute\n"
        "from costroute import Client, AsyncClient, ConfigError, CostrouteError\n"
        "from costroute.router import classify\n"
        "classify([{'role': 'user', 'content': 'hi'}])\n"
        "import costroute.server\n"
        "print(sorted(m for m in ('litellm', 'tiktoken', 'openai', 'starlette', 'uvicorn', 'prometheus_client')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module", ["costroute", "costroute.policies", "costroute.providers",
                                    "costroute.pricing", "costroute.router", "costroute.spend",
                                    "costroute.testing"])
def test_all_is_sorted_complete_and_resolvable(module: str) -> None:
    mod = importlib.import_module(module)
    names = list(mod.__all__)
    assert len(names) == len(set(names))  # ordering is enforced by ruff (RUF022)
    for name in names:
        assert getattr(mod, name) is not None
    public = {n for n, v in vars(mod).items() if not n.startswith("_") and not isinstance(v, type(costroute))
              and getattr(v, "__module__", module).startswith("costroute")}
    assert public <= set(names) | {"annotations", "TYPE_CHECKING"}


def test_error_tree() -> None:
    for name in costroute.__all__:
        obj = getattr(costroute, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, costroute.CostrouteError)
