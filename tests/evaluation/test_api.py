"""The public surface of costroute.evaluation: complete, sorted, and light to import."""

from __future__ import annotations

import subprocess
import sys
import types

import costroute.evaluation as evaluation


def test_all_is_sorted_and_complete() -> None:
    assert evaluation.__all__ == sorted(evaluation.__all__)
    public = {
        n for n in dir(evaluation) if not n.startswith("_") and not isinstance(getattr(evaluation, n), types.ModuleType)
    } - {"annotations"}
    assert set(evaluation.__all__) == public


def test_import_needs_no_numpy_or_sklearn() -> None:
    code = (
        "import sys, costroute.evaluation, costroute.cli._eval; "
        "bad = [m for m in ('numpy', 'sklearn', 'scipy', 'matplotlib') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
