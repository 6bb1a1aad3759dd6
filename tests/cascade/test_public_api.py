"""The public surface of costroute.cascade: complete, sorted, pure and light to import."""

from __future__ import annotations

import doctest
import subprocess
import sys
import types

import costroute.cascade as cascade
from costroute.cascade import _normalize


def test_all_is_complete_without_duplicates() -> None:
    assert len(cascade.__all__) == len(set(cascade.__all__))  # ordering is enforced by ruff (RUF022)
    public = {n for n in dir(cascade) if not n.startswith("_")
              and not isinstance(getattr(cascade, n), types.ModuleType)} - {"annotations"}
    assert set(cascade.__all__) == public


def test_import_loads_no_litellm_tiktoken_or_http_client() -> None:
    code = ("import sys, costroute.cascade; "
            "bad = [m for m in ('litellm', 'tiktoken', 'httpx', 'openai') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_docstring_examples_run() -> None:
    for module in (cascade, _normalize):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0
