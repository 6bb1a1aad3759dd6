"""blend-v1, the default: shipped weights, scoring, monotone in length, and bad weight files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from costroute import ConfigError
from costroute.router import BlendClassifier, Classifier, label_for, load_classifier
from costroute.router._blend import BLEND_FORMAT, Knots
from costroute.router._features import SURFACE_NAMES, surface_features, view_of


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def shipped() -> BlendClassifier:
    return BlendClassifier.load()


def test_shipped_weights_load_and_score_in_range(shipped: BlendClassifier) -> None:
    assert isinstance(shipped, Classifier) and shipped.name == "blend-v1"
    for text in ["", "hi", "What is the capital of France?", "x " * 20_000, "数学の問題を解いてください。" * 50]:
        result = shipped.classify(user(text))
        assert 0.0 <= result.score <= 1.0
        assert result.label == label_for(result.score)
        assert {"length_share", "surface_share", "raw"} <= set(result.signals)
    sets = {s["name"] for s in shipped.metadata["sets"]}
    assert sets == {"routellm-mmlu.jsonl", "llmrouter-train.jsonl", "routerdc-train.jsonl", "routerbench-train.jsonl"}


def test_length_dominates_so_longer_asks_score_higher(shipped: BlendClassifier) -> None:
    ask = "Summarise the following report and list its three main risks.\n\n"
    body = "The quarterly figures show revenue growth in two regions and a decline in the third. "
    scores = [shipped.classify(user(ask + body * n)).score for n in (1, 10, 60)]
    assert scores[0] < scores[1] < scores[2]


def test_the_whole_conversation_counts_towards_length(shipped: BlendClassifier) -> None:
    long_context = [
        {"role": "system", "content": "You review contracts. " * 300},
        {"role": "user", "content": "Is clause 4 enforceable?"},
    ]
    assert shipped.parts(long_context)[0] > shipped.parts(user("Is clause 4 enforceable?"))[0]


def test_surface_features_share_one_pass_and_have_their_names() -> None:
    x, sig, chars = surface_features(view_of(user("What is 2+2?\nA) 3\nB) 4")))
    assert len(x) == len(SURFACE_NAMES)
    assert x[: len(sig)] == list(sig.values())
    assert x[SURFACE_NAMES.index("options")] == pytest.approx(2 / 6)
    assert chars == len("What is 2+2?\nA) 3\nB) 4")


def test_weights_files_load_by_path_and_round_trip(tmp_path: Path, shipped: BlendClassifier) -> None:
    from importlib import resources

    raw = (resources.files("costroute.router") / "weights" / "blend-v1.json.gz").read_bytes()
    payload = json.loads(gzip.decompress(raw))
    assert payload["format"] == BLEND_FORMAT
    plain = tmp_path / "mine.json"
    plain.write_text(json.dumps({**payload, "name": "mine"}))
    mine = load_classifier(str(plain))
    assert isinstance(mine, BlendClassifier) and mine.name == "mine"
    msgs = user("Explain the difference between a mutex and a semaphore.")
    assert mine.classify(msgs).score == shipped.classify(msgs).score


@pytest.mark.parametrize(
    "change",
    [
        {"format": "costroute-blend/0"},
        {"length_weight": 1.5},
        {"length_knots": {"x": [1.0, 0.5], "y": [0.0, 1.0]}},
        {"calibration": {"x": [0.0], "y": [0.0]}},
        {"surface": {"features": ["length"], "bias": 0.0, "weights": [1.0], "mean": [0.0]}},
    ],
)
def test_bad_weights_files_are_config_errors(tmp_path: Path, change: dict[str, Any]) -> None:
    from importlib import resources

    payload = json.loads(gzip.decompress((resources.files("costroute.router") / "weights" / "blend-v1.json.gz")
                                         .read_bytes()))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**payload, **change}))
    with pytest.raises(ConfigError, match=r"bad\.json"):
        BlendClassifier.load(bad)


def test_knots_are_monotone_and_flat_beyond_their_ends() -> None:
    k = Knots([0.0, 1.0, 3.0], [0.0, 0.5, 1.0])
    assert (k(-5), k(0.5), k(2.0), k(9)) == (0.0, 0.25, 0.75, 1.0)
    with pytest.raises(ValueError):
        Knots([0.0, float("nan")], [0.0, 1.0])
