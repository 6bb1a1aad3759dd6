"""costroute.learning's public surface: complete, and light to import."""

from __future__ import annotations

import subprocess
import sys
import types

import costroute.learning as learning


def test_all_is_complete() -> None:  # ordering is enforced by ruff (RUF022)
    assert len(learning.__all__) == len(set(learning.__all__))
    public = {
        n for n in dir(learning) if not n.startswith("_") and not isinstance(getattr(learning, n), types.ModuleType)
    } - {"annotations"}
    assert set(learning.__all__) == public


def test_import_needs_no_numpy_litellm_or_tiktoken() -> None:
    code = (
        "import sys, costroute.learning, costroute.learning._promote, costroute.learning._store, "
        "costroute.cli._routing; "
        "bad = [m for m in ('numpy', 'sklearn', 'scipy', 'litellm', 'tiktoken') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
