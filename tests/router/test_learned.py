"""The learned classifier: shipped weights, loading, scoring, and bad weight files."""

from __future__ import annotations

import gzip
import itertools
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import costroute.router as router
from costroute import ConfigError
from costroute.router import (
    Classifier,
    HeuristicClassifier,
    LearnedClassifier,
    default_classifier,
    label_for,
    load_classifier,
)
from costroute.router._features import gram_features, view_of
from costroute.router._learned import FORMAT, VOCAB_FORMAT, encode_weights

HARD = (
    "Prove that there are infinitely many primes, then write a Python function implementing "
    "the Sieve of Eratosthenes with complexity analysis, and compare its asymptotic performance "
    "with the segmented sieve for n=10^9."
)


@pytest.fixture(scope="module")
def shipped() -> LearnedClassifier:
    return LearnedClassifier.load()


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def test_shipped_weights_load_quickly_and_score_in_range(shipped: LearnedClassifier) -> None:
    t0 = time.perf_counter()
    LearnedClassifier.load()
    assert time.perf_counter() - t0 < 2.0  # generous for CI; the benchmark reports ~20-50 ms
    assert isinstance(shipped, Classifier)
    assert shipped.name == "learned-v2"
    for text in ["", "hi", "What is the capital of France?", HARD, "x " * 20_000]:
        result = shipped.classify(user(text))
        assert 0.0 <= result.score <= 1.0
        assert result.label == label_for(result.score)
        assert result.classifier == "learned-v2"
        assert {"bias", "ngrams", "heuristic", "raw"} <= set(result.signals)


def test_shipped_weights_order_easy_below_hard(shipped: LearnedClassifier) -> None:
    easy = shipped.classify(user("What is the capital of France?")).score
    assert easy < shipped.classify(user(HARD)).score


def test_reads_the_whole_conversation(shipped: LearnedClassifier) -> None:
    short = [{"role": "user", "content": "And for n=10^12?"}]
    long = [
        {"role": "system", "content": "You are a mathematician."},
        {"role": "user", "content": [{"type": "text", "text": HARD}]},
        {"role": "assistant", "content": "..."},
        *short,
    ]
    assert shipped.classify(long).signals["raw"] != shipped.classify(short).signals["raw"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=300), max_size=4))
def test_deterministic(texts: list[str]) -> None:
    clf = default_classifier()
    messages = [{"role": "user", "content": t} for t in texts]
    assert clf.classify(messages) == clf.classify(messages)


def test_default_and_named_classifiers() -> None:
    assert default_classifier() is default_classifier()
    assert default_classifier().name == "blend-v1"
    assert router.classify(user("hi")).classifier == "blend-v1"
    assert load_classifier("blend").name == "blend-v1"
    assert load_classifier("default") is default_classifier()
    assert isinstance(load_classifier("heuristic"), HeuristicClassifier)
    assert isinstance(load_classifier("heuristic-v1"), HeuristicClassifier)
    assert load_classifier("learned").name == "learned-v2"


def _payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "format": FORMAT,
        "name": "tiny",
        "dim": 8,
        "bigrams": True,
        "bias": 0.0,
        "hash_weights": encode_weights([0.5] * 8),
        "signal_weights": {"length": 1.0},
        "calibration": {"z": [0.0, 1.0, 2.0], "score": [0.0, 0.5, 1.0]},
    }
    payload.update(overrides)
    return payload


def test_round_trip_and_calibration(tmp_path: Path) -> None:
    path = tmp_path / "tiny.json.gz"
    path.write_bytes(gzip.compress(json.dumps(_payload()).encode()))
    clf = load_classifier(path)
    assert isinstance(clf, LearnedClassifier)
    assert clf.name == "tiny"
    assert clf.calibrate(-5.0) == 0.0
    assert clf.calibrate(0.5) == pytest.approx(0.25)
    assert clf.calibrate(1.5) == pytest.approx(0.75)
    assert clf.calibrate(9.0) == 1.0
    plain = tmp_path / "tiny.json"
    plain.write_text(json.dumps(_payload(name="plain")))
    assert LearnedClassifier.load(plain).name == "plain"


@settings(max_examples=200, deadline=None)
@given(st.floats(-10, 10), st.floats(-10, 10))
def test_calibration_is_monotone(a: float, b: float) -> None:
    clf = LearnedClassifier.from_payload(_payload())
    lo, hi = sorted((a, b))
    assert clf.calibrate(lo) <= clf.calibrate(hi)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"not gzip, not json", "not a classifier weights file"),
        (json.dumps({"format": "other"}).encode(), "not a costroute-learned/2 or costroute-learned/1"),
        (json.dumps(_payload(dim=16)).encode(), "expected 16 hashed weights"),
        (json.dumps(_payload(calibration={"z": [1, 0], "score": [0, 1]})).encode(), "malformed"),
        (json.dumps({k: v for k, v in _payload().items() if k != "bias"}).encode(), "malformed"),
    ],
)
def test_bad_weight_files(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=match) as info:
        LearnedClassifier.load(path)
    assert str(path) in str(info.value)


def test_missing_weight_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read classifier weights"):
        load_classifier(tmp_path / "missing.json.gz")


def _vocab_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "format": VOCAB_FORMAT,
        "name": "tiny-vocab",
        "bias": 0.0,
        "unigrams": "prove\nwhat",
        "unigram_weights": encode_weights([1.0, -1.0]),
        "bigrams": "step by\nwhat is",
        "bigram_weights": encode_weights([0.5, -0.5]),
        "signal_weights": {},
        "calibration": {"z": [-1.0, 1.0], "score": [0.0, 1.0]},
    }
    payload.update(overrides)
    return payload


def test_vocabulary_format_scores_distinct_grams() -> None:
    clf = LearnedClassifier.from_payload(_vocab_payload())
    assert "vocab=4" in repr(clf)
    # grams {prove, it, step, by, "prove it", "it step", "step by"}: (1.0 + 0.5) / sqrt(7)
    raw = clf.raw(user("Prove it step by step by step."))[1]["ngrams"]
    assert raw == pytest.approx(1.5 / math.sqrt(8), rel=1e-6)  # "by step" is an 8th gram
    assert clf.raw(user("What is it?"))[1]["ngrams"] < 0 < raw
    assert clf.raw(user(""))[1]["ngrams"] == 0.0
    # a gram already in the latest turn is not counted again from the context
    ctx = [{"role": "system", "content": "prove"}, {"role": "user", "content": "prove"}]
    assert clf.raw(ctx)[1]["ngrams"] == pytest.approx(1.0)
    only_ctx = [{"role": "system", "content": "prove"}, {"role": "user", "content": "ok"}]
    assert clf.raw(only_ctx)[1]["ngrams"] == pytest.approx(0.5 / math.sqrt(1 + 0.25))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"bigrams": "step\nwhat is"}, "every bigram must be 2 word"),
        ({"bigrams": "a  b"}, "every bigram must be 2 word"),
        ({"unigrams": "a b"}, "every unigram must be 1 word"),
        ({"unigram_weights": encode_weights([1.0])}, "expected 2 unigram weights"),
        ({"bigrams": None}, "malformed|every bigram"),
    ],
)
def test_bad_vocabulary_files(overrides: dict[str, Any], match: str) -> None:
    payload = _vocab_payload(**overrides)
    if overrides.get("bigrams", "") is None:
        del payload["bigrams"]
    with pytest.raises(ConfigError, match=match):
        LearnedClassifier.from_payload(payload)


def test_constructor_needs_one_kind_of_weights() -> None:
    with pytest.raises(ValueError, match="either"):
        LearnedClassifier(
            name="x", dim=0, bigrams=True, bias=0.0, hash_weights=[], signal_weights={}, calibration=([0, 1], [0, 1])
        )


def test_gram_features_cap_and_reuse() -> None:
    names = ["".join(t) for t in itertools.product("abcdefghijklm", repeat=3)][:2000]  # digits fold to 0
    words = " ".join(names)
    grams, sig = gram_features(view_of(user(words)), max_words=30)
    assert len(grams.latest) == 30 + 29  # first 20 and last 10 words, their bigrams (one across the cut)
    first, last = names[0].encode(), names[-1].encode()
    assert first + b" " + names[1].encode() in grams.latest and last in grams.latest
    assert names[500].encode() not in grams.latest
    assert sig == gram_features(view_of(user(words)))[1]  # signals read the whole text
    small, _ = gram_features(view_of(user("a b a")))
    assert small.latest == {b"a", b"b", b"a b", b"b a"}
    assert small.norm == pytest.approx(2.0)
