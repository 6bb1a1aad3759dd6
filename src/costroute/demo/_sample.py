"""The recorded outcomes the demo replays, shipped in ``costroute/demo/data``.

``mmlu-sample.jsonl`` holds one question per line in the outcome format of ``costroute eval``
(``id``, ``prompt``, ``scores``, ``costs_usd``, plus ``subject`` and the ``usage`` the demo bills);
``mmlu-sample.json`` says where it comes from, under which licences, and how it was derived
(``scripts/build_demo_sample.py``). :func:`load_sample` reads both and checks that they belong
together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["Sample", "SampleModel", "SampleRow", "load_sample", "trained_on"]

_ROWS = "mmlu-sample.jsonl"
_META = "mmlu-sample.json"


@dataclass(frozen=True, slots=True)
class SampleRow:
    """One question with each model's recorded score (1.0 = answered correctly) and the usage
    to bill for it."""

    id: str
    subject: str
    prompt: str
    scores: Mapping[str, float]
    prompt_tokens: int
    completion_tokens: int

    @property
    def messages(self) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.prompt}]


@dataclass(frozen=True, slots=True)
class SampleModel:
    """A model of the sample: its litellm id, what the source calls it, its recorded accuracy over
    the whole source file (the demo's ``quality:``), and its list price when the sample was built."""

    name: str
    label: str
    recorded_as: str
    quality: float
    price: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    rows: tuple[SampleRow, ...]
    models: tuple[SampleModel, ...]  # cheapest first
    baseline: str
    meta: Mapping[str, Any]

    @property
    def source_file(self) -> str:
        """The outcome file the rows were drawn from (as classifiers name their training sets)."""
        return str(self.meta["source"]["file"])

    def credit(self) -> str:
        """Where the outcomes and the questions come from, and their licences, in one line."""
        src, questions = self.meta["source"], self.meta["questions"]
        return (f"{src['name']} ({src['repository']}, {src['licence']}); questions: {questions['name'].split(' (')[0]}"
                f" ({questions['authors']}, {questions['licence']})")

    def model(self, name: str) -> SampleModel:
        return next(m for m in self.models if m.name == name)


def _row(data: Mapping[str, Any]) -> SampleRow:
    usage = data["usage"]
    return SampleRow(id=data["id"], subject=data.get("subject", ""), prompt=data["prompt"],
                     scores={k: float(v) for k, v in data["scores"].items()},
                     prompt_tokens=int(usage["prompt_tokens"]), completion_tokens=int(usage["completion_tokens"]))


def load_sample() -> Sample:
    """The shipped sample. Raises ``ValueError`` if its rows are not the ones its metadata describes."""
    data = resources.files("costroute.demo") / "data"
    text = (data / _ROWS).read_text(encoding="utf-8")
    meta = json.loads((data / _META).read_text(encoding="utf-8"))
    if hashlib.sha256(text.encode()).hexdigest() != meta["rows_sha256"]:
        raise ValueError(f"costroute/demo/data/{_ROWS} does not match {_META}: rebuild both with "
                         "scripts/build_demo_sample.py")
    rows = tuple(_row(json.loads(line)) for line in text.split("\n") if line.strip())
    models = tuple(
        SampleModel(name=name, label=m["label"], recorded_as=m["recorded_as"], quality=float(m["accuracy"]),
                    price={k: m["price"][k] for k in ("input_per_mtok", "output_per_mtok")})
        for name, m in meta["models"].items()
    )
    models = tuple(sorted(models, key=lambda m: (float(m.price["input_per_mtok"]), m.name)))
    return Sample(name=meta["name"], rows=rows, models=models, baseline=meta["baseline"], meta=meta)


def trained_on(metadata: Mapping[str, Any] | None, sample: Sample) -> bool | None:
    """Whether a classifier with this ``metadata`` was trained on the sample's questions.

    Trained classifiers name their training files in ``metadata["sets"]``; one trained on the
    sample's source file counts as having seen the sample unless it lists the sample's name in
    ``metadata["held_out"]`` (rows left out of training). ``None``: the metadata does not say."""
    sets = (metadata or {}).get("sets")
    if not isinstance(sets, list):
        return None
    names = {str(s.get("name", "")) for s in sets if isinstance(s, Mapping)}
    held_out = (metadata or {}).get("held_out") or ()
    return sample.source_file in names and sample.name not in held_out
