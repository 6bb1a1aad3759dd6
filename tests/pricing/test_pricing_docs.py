"""docs/pricing.md's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from costroute.pricing import PriceFileSource

DOC = Path(__file__).resolve().parents[2] / "docs" / "pricing.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_python_examples_run() -> None:
    blocks = _blocks("python")
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {"__name__": "docs"})


def test_price_file_example_loads(tmp_path: Path) -> None:
    [block] = _blocks("yaml")
    path = tmp_path / "prices.yaml"
    path.write_text(block)
    sheet = PriceFileSource(path).sheet("acme/house-model")
    assert sheet is not None and sheet.service_tier_names == {"default", "flex", "batch"}
    assert yaml.safe_load(block)["acme/house-model"]["cache_write_1h_per_mtok"] == 4
