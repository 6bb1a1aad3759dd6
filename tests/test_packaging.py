"""The wheel a user installs: typed, with its data files, and nothing else (no tests, benchmarks,
scripts or training data); its metadata claims the Python versions that .ci/run proves."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.message import Message
from email.parser import Parser
from pathlib import Path, PurePosixPath

import pytest

import costroute

ROOT = Path(__file__).resolve().parent.parent


def _not_source(directory: str, names: list[str]) -> set[str]:
    """What a checkout holds but a build never reads: VCS data, venvs, caches, earlier build output."""
    skip = {n for n in names if n in {".git", "__pycache__", ".hypothesis", "node_modules", ".out"}
            or n.startswith(".venv") or n.endswith(".egg-info") or (n.startswith(".") and "cache" in n)}
    if Path(directory) == ROOT:
        skip |= {"build", "dist"} & set(names)
    return skip


#: Files that look like data sets; none may ship (demo samples excepted, see below).
_DATA_SUFFIXES = {".jsonl", ".csv", ".tsv", ".parquet", ".arrow", ".feather", ".npy", ".npz", ".pkl", ".pickle",
                  ".sqlite3", ".db"}
DEMO_DATA = PurePosixPath("costroute/demo/data")
DEMO_DATA_LIMIT = 200 * 1024


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """The wheel built offline (``python -m build --no-isolation``) from a copy of the checkout, so
    nothing is written into the tree and no earlier ``build/`` directory can leak into it."""
    tree = tmp_path_factory.mktemp("tree") / "costroute"
    shutil.copytree(ROOT, tree, ignore=_not_source)
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(tree)],
        capture_output=True, text=True,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    [path] = out.glob("costroute-*.whl")
    with zipfile.ZipFile(path) as zf:
        yield zf


@pytest.fixture(scope="module")
def metadata(wheel: zipfile.ZipFile) -> Message:
    [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return Parser().parsestr(wheel.read(name).decode())


def _ci_pythons() -> list[str]:
    """The versions .ci/run proves (``CI_PYTHONS`` in .ci/lib.sh), oldest first."""
    match = re.search(r'^CI_PYTHONS="([^"]+)"$', (ROOT / ".ci" / "lib.sh").read_text(), flags=re.M)
    assert match, "CI_PYTHONS not found in .ci/lib.sh"
    return match.group(1).split()


def test_the_wheel_holds_the_package_its_types_and_its_data(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "costroute/py.typed" in names
    assert any(re.fullmatch(r"costroute/pricing/[^/]+\.json\.gz", n) for n in names), "price snapshot missing"
    assert any(n.startswith("costroute/router/weights/") for n in names), "classifier weights missing"
    sources = {p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src" / "costroute").rglob("*.py")}
    assert sources <= names, f"modules missing from the wheel: {sorted(sources - names)[:5]}"


def test_the_wheel_holds_nothing_but_the_package(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    top = {PurePosixPath(n).parts[0] for n in names}
    assert top == {"costroute", f"costroute-{costroute.__version__}.dist-info"}  # no tests/, benchmarks/, scripts/
    demo_bytes = 0
    for info in wheel.infolist():
        path = PurePosixPath(info.filename)
        assert path.suffix != ".pyc" and "__pycache__" not in path.parts, info.filename
        if DEMO_DATA in path.parents:
            demo_bytes += info.file_size  # a small derived demo sample may ship, whatever its format
        else:
            assert not set(path.suffixes) & _DATA_SUFFIXES, f"data file in the wheel: {info.filename}"
    assert demo_bytes <= DEMO_DATA_LIMIT, f"{DEMO_DATA}/ holds {demo_bytes} bytes (at most {DEMO_DATA_LIMIT})"


def test_the_metadata_claims_what_ci_proves(metadata: Message) -> None:
    pythons = _ci_pythons()
    assert metadata["Version"] == costroute.__version__
    assert metadata["Requires-Python"] == f">={pythons[0]}"
    classifiers = metadata.get_all("Classifier") or []
    versions = [re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c) for c in classifiers]
    assert [m.group(1) for m in versions if m] == pythons
    assert "Typing :: Typed" in classifiers
    assert metadata["License-Expression"] == "Apache-2.0"
    assert {u.split(",")[0] for u in metadata.get_all("Project-URL") or []} >= {"Homepage", "Repository", "Changelog"}


def test_the_license_ships(wheel: zipfile.ZipFile) -> None:
    [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
    assert b"Apache License" in wheel.read(name) and "Apache License" in (ROOT / "LICENSE").read_text()
