"""The heuristic classifier: bounds, determinism, whole-conversation reading, speed."""

from __future__ import annotations

import subprocess
import sys
import time
import types
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import costroute.router as router
from costroute.router import Classification, Classifier, HeuristicClassifier, classify, label_for

EASY = "What is the capital of France?"
HARD = (
    "Prove that there are infinitely many primes, then write a Python function implementing "
    "the Sieve of Eratosthenes with complexity analysis, and compare its asymptotic performance "
    "with the segmented sieve for n=10^9."
)


def user(text: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def clf() -> HeuristicClassifier:
    return HeuristicClassifier()


def test_is_a_classifier(clf: HeuristicClassifier) -> None:
    assert isinstance(clf, Classifier)
    assert clf.name == "heuristic-v1"


def test_easy_prompt_scores_low(clf: HeuristicClassifier) -> None:
    result = clf.classify(user(EASY))
    assert result.score < 0.3
    assert result.label == "easy"
    assert result.classifier == "heuristic-v1"


def test_hard_prompt_scores_high(clf: HeuristicClassifier) -> None:
    result = clf.classify(user(HARD))
    assert result.score > 0.7
    assert result.label == "hard"
    assert result.label == label_for(result.score)
    top = sorted(result.signals, key=lambda k: result.signals[k], reverse=True)[:4]
    assert {"reasoning", "multistep", "math"} & set(top)


@pytest.mark.parametrize(
    ("easier", "harder"),
    [
        ("hi", "Explain why the sky is blue."),
        (
            "Write a haiku about autumn.",
            "Design and optimize a distributed cache; compare the "
            "trade-offs of write-through versus write-back, step by step.",
        ),
        (
            "Translate 'cat' to French.",
            "Debug this:\n```python\ndef f(x):\n    return x + '1'\n```",
        ),
    ],
)
def test_orders_pairs(clf: HeuristicClassifier, easier: str, harder: str) -> None:
    assert clf.classify(user(easier)).score < clf.classify(user(harder)).score


def test_reads_the_whole_conversation(clf: HeuristicClassifier) -> None:
    alone = clf.classify(user("Now do the same for n=10^12."))
    with_history = clf.classify(
        [
            {"role": "system", "content": "You are a careful mathematician."},
            {"role": "user", "content": HARD},
            {"role": "assistant", "content": "Here is the proof and the code ..."},
            {"role": "user", "content": "Now do the same for n=10^12."},
        ]
    )
    assert with_history.score > alone.score
    assert with_history.signals["depth"] > 0


def test_latest_user_turn_weighs_more(clf: HeuristicClassifier) -> None:
    hard_last = [{"role": "user", "content": "thanks"}, {"role": "user", "content": HARD}]
    hard_first = [{"role": "user", "content": HARD}, {"role": "user", "content": "thanks"}]
    assert clf.classify(hard_last).score > clf.classify(hard_first).score


def test_multipart_content_tools_and_images(clf: HeuristicClassifier) -> None:
    parts = [{"type": "text", "text": HARD}]
    assert clf.classify(user(parts)).score == pytest.approx(clf.classify(user(HARD)).score)
    with_image = clf.classify(
        user(
            [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:..."}},
            ]
        )
    )
    assert with_image.signals["images"] > 0
    with_tools = clf.classify(
        [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "1", "content": '{"temp": 12}'},
        ]
    )
    assert with_tools.signals["tools"] > 0


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "assistant", "content": "hello"}],
        [{"role": "user"}],
        [{"role": "user", "content": None}],
        [{"role": "user", "content": [{"type": "text"}, "bare string", 3]}],
        [{"role": "user", "content": "x" * 200_000}],
    ],
)
def test_degenerate_inputs_are_scored(clf: HeuristicClassifier, messages: Any) -> None:
    result = clf.classify(messages)
    assert 0.0 <= result.score <= 1.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["system", "user", "assistant", "tool"]), st.text()), max_size=6))
def test_score_in_range_and_deterministic(turns: list[tuple[str, str]]) -> None:
    messages = [{"role": r, "content": t} for r, t in turns]
    first = HeuristicClassifier().classify(messages)
    assert 0.0 <= first.score <= 1.0
    assert first.label == label_for(first.score)
    assert HeuristicClassifier().classify(messages) == first


def test_is_fast_on_a_1k_token_prompt(clf: HeuristicClassifier) -> None:
    text = (HARD + " Some more context about the sieve and its memory use. ") * 25  # ~1k tokens
    messages = user(text)
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        clf.classify(messages)
        times.append(time.perf_counter() - t0)
    times.sort()
    assert times[len(times) // 2] < 1e-3  # generous for CI; the benchmark reports the real p50


def test_module_api() -> None:
    assert router.__all__ == sorted(router.__all__)
    public = {
        n for n in dir(router) if not n.startswith("_") and not isinstance(getattr(router, n), types.ModuleType)
    } - {"annotations"}
    assert set(router.__all__) == public
    result = classify(user(EASY))
    assert isinstance(result, Classification)
    assert router.default_classifier() is router.default_classifier()
    assert classify(user(EASY), classifier=HeuristicClassifier()).classifier == "heuristic-v1"


def test_import_is_cheap() -> None:
    code = (
        "import sys, costroute.router; "
        "bad = [m for m in ('numpy', 'sklearn', 'tiktoken', 'litellm') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
