"""Training: the pure-Python classifier reproduces the fitted model and learns the signal."""

from __future__ import annotations

from pathlib import Path

import pytest

from costroute.evaluation import evaluate_pair, load_outcomes
from costroute.router import LearnedClassifier

from .conftest import STRONG, WEAK, outcome_rows, write_jsonl

pytest.importorskip("sklearn")

from costroute.evaluation._train import (
    TrainingSet,
    cross_fit,
    cross_fit_models,
    fit_payload,
    guess_task,
    save_payload,
)


@pytest.mark.parametrize("dim", [0, 2**10])  # the vocabulary format, hashed n-grams
def test_fit_save_load_and_rank(tmp_path: Path, dim: int) -> None:
    outcomes = load_outcomes(write_jsonl(tmp_path / "d.jsonl", outcome_rows(60)))
    sets = [TrainingSet(outcomes, STRONG, WEAK, name="synthetic")]
    payload = fit_payload(sets, name="tiny", dim=dim, alpha=1.0, calibration_folds=3)
    assert payload["format"] == ("costroute-learned/2" if dim == 0 else "costroute-learned/1")
    path = tmp_path / "tiny.json.gz"
    save_payload(payload, path)
    first = path.read_bytes()
    save_payload(payload, path)
    assert path.read_bytes() == first  # reproducible bytes
    clf = LearnedClassifier.load(path)
    assert clf.name == "tiny"
    assert clf.metadata["sets"][0]["strong"] == STRONG
    scores = [clf.classify(o.messages).score for o in outcomes]
    assert all(0.0 <= s <= 1.0 for s in scores)
    report = evaluate_pair(scores, [o.scores[STRONG] for o in outcomes], [o.scores[WEAK] for o in outcomes])
    assert report.apgr == pytest.approx(0.75)  # perfect: the hard half needs the strong model
    unseen_hard = clf.classify(
        [
            {
                "role": "user",
                "content": "Prove that the sum of the first 99 odd numbers is a square, derive it step by step.",
            }
        ]
    )
    unseen_easy = clf.classify([{"role": "user", "content": "What is the capital of country 99?"}])
    assert unseen_hard.score > unseen_easy.score


def test_cross_fit_and_several_weak_models(tmp_path: Path) -> None:
    outcomes = load_outcomes(write_jsonl(tmp_path / "d.jsonl", outcome_rows(30)))
    ts = TrainingSet(outcomes, STRONG, (WEAK, "mid-model"))
    assert ts.labels()[0] == pytest.approx(1.0 - (0.0 + 1.0) / 2)  # row 0: mid right
    (preds,) = cross_fit([ts], k=3, dim=2**10, alpha=1.0)
    assert len(preds) == 30
    (vocab_preds,) = cross_fit([ts], k=3, alpha=1.0)
    assert len(vocab_preds) == 30
    per_model = cross_fit_models(outcomes, [STRONG, WEAK], k=3, alpha=1.0)
    assert len(per_model) == 30 and set(per_model[0]) == {STRONG, WEAK}
    hard = [p[WEAK] for p, o in zip(per_model, outcomes, strict=True) if o.group == "hard"]
    easy = [p[WEAK] for p, o in zip(per_model, outcomes, strict=True) if o.group == "easy"]
    assert max(hard) < min(easy)  # the weak model is predicted to fail the hard prompts
    grouped = cross_fit([ts], k=2, groups=[o.group for o in outcomes], dim=2**10)
    assert len(grouped[0]) == 30


@pytest.mark.parametrize(
    ("text", "task"),
    [
        ("Q: There are 3 houses in a row ...", "logic-puzzle"),
        ("Write a function to sort a list.", "code"),
        ("Find $x$ if $x^2=4$.", "math"),
        ("What is the tallest mountain?", "qa"),
    ],
)
def test_guess_task(text: str, task: str) -> None:
    assert guess_task(text) == task
