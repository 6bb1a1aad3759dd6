"""``learned-v2``: a linear model over word n-grams and the heuristic's signals.

The model predicts the expected quality gap between a strong and a weak model on the prompt
(trained on recorded outcomes, see :mod:`costroute.evaluation._train`), adds a small multiple
of the hand-set heuristic's logit (a prior that holds up on tasks unlike the training data),
then maps that raw value through a monotone piecewise-linear calibration to a difficulty in [0, 1]: the share of
the training prompts that were predicted easier. Inference is pure Python (no numpy): the
weights file is gzipped JSON with the n-gram weights as base64 little-endian float32.

Two weights formats load:

* ``costroute-learned/2`` (the shipped one): a vocabulary of word unigrams and bigrams
  (:func:`~costroute.router._features.gram_features`, presence features) with one weight each,
  scored with one dict lookup per distinct gram of the prompt;
* ``costroute-learned/1``: ``dim`` hashed n-gram weights (CRC32 buckets of counts).
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import math
import operator
import os
import sys
from array import array
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from importlib import resources
from itertools import repeat
from pathlib import Path
from typing import Any

from costroute._errors import ConfigError
from costroute.router._classifier import Classification, Messages, label_for
from costroute.router._features import (
    CONTEXT_WEIGHT,
    GRAM_MAX_WORDS,
    SIGNAL_NAMES,
    Gram,
    features,
    gram_features,
    view_of,
)
from costroute.router._heuristic import heuristic_logit

__all__ = ["DEFAULT_WEIGHTS", "FORMAT", "VOCAB_FORMAT", "LearnedClassifier", "encode_weights"]

#: The hashed-n-gram format.
FORMAT = "costroute-learned/1"
#: The vocabulary format: ``unigrams`` and ``bigrams`` are newline-joined grams (a bigram's
#: two words separated by a space), ``unigram_weights`` / ``bigram_weights`` their weights,
#: ``max_words`` the words of each text read for n-grams.
VOCAB_FORMAT = "costroute-learned/2"
#: File name of the shipped weights inside ``costroute/router/weights/``.
DEFAULT_WEIGHTS = "learned-v2.json.gz"


def encode_weights(values: Sequence[float]) -> str:
    """Base64 of little-endian float32, as stored in weights files."""
    arr = array("f", values)
    if sys.byteorder == "big":
        arr.byteswap()
    return base64.b64encode(arr.tobytes()).decode("ascii")


def _decode_weights(text: str, dim: int, where: str, what: str = "hashed") -> array[float]:
    arr = array("f")
    arr.frombytes(base64.b64decode(text))
    if sys.byteorder == "big":
        arr.byteswap()
    if len(arr) != dim:
        raise ConfigError(f"{where}: expected {dim} {what} weights, found {len(arr)}")
    return arr


def _decode_vocab(payload: Mapping[str, Any], where: str) -> dict[Gram, float]:
    """The ``{gram: weight}`` table of a :data:`VOCAB_FORMAT` document, built in C-level
    passes (a Python loop over the ~150k grams would dominate the load time)."""
    vocab: dict[Gram, float] = {}
    for kind, words in (("unigram", 1), ("bigram", 2)):
        text = str(payload[f"{kind}s"]).encode("utf-8")
        grams = text.split(b"\n") if text else []
        if text.count(b" ") != (words - 1) * len(grams) or not all(grams):
            raise ConfigError(f"{where}: every {kind} must be {words} word(s) separated by one space")
        weights = _decode_weights(payload[f"{kind}_weights"], len(grams), where, kind)
        vocab.update(zip(grams, weights.tolist(), strict=True))
    return vocab


class LearnedClassifier:
    """Scores difficulty with a trained linear model. Immutable once loaded; pure and
    deterministic. Use :meth:`load` (the shipped weights by default)."""

    __slots__ = (
        "_bias",
        "_bigrams",
        "_cal_score",
        "_cal_z",
        "_dim",
        "_hash_weights",
        "_heuristic_weight",
        "_max_words",
        "_signal_weights",
        "_vocab",
        "metadata",
        "name",
    )

    def __init__(
        self,
        *,
        name: str,
        dim: int,
        bigrams: bool,
        bias: float,
        hash_weights: Sequence[float],
        signal_weights: Mapping[str, float],
        calibration: tuple[Sequence[float], Sequence[float]],
        heuristic_weight: float = 0.0,
        metadata: Mapping[str, Any] | None = None,
        vocab: Mapping[Gram, float] | None = None,
        max_words: int = GRAM_MAX_WORDS,
    ) -> None:
        """``dim`` hashed ``hash_weights`` (format 1), or ``dim=0``, no hash weights and a
        ``vocab`` of gram weights (format 2)."""
        cal_z, cal_score = (list(map(float, c)) for c in calibration)
        if len(cal_z) != len(cal_score) or len(cal_z) < 2:
            raise ValueError("calibration needs two equally long lists of at least 2 knots")
        if any(b <= a for a, b in itertools.pairwise(cal_z)) or any(b < a for a, b in itertools.pairwise(cal_score)):
            raise ValueError("calibration knots must be increasing")
        if len(hash_weights) != dim:
            raise ValueError(f"expected {dim} hashed weights, got {len(hash_weights)}")
        if (vocab is None) == (dim == 0):
            raise ValueError("give either dim > 0 with hashed weights or dim=0 with a vocabulary")
        self.name = name
        self.metadata: Mapping[str, Any] = dict(metadata or {})
        self._dim = dim
        self._bigrams = bigrams
        self._bias = float(bias)
        self._heuristic_weight = float(heuristic_weight)
        self._hash_weights = hash_weights
        self._vocab: dict[Gram, float] = dict(vocab) if vocab is not None else {}
        self._max_words = max_words
        self._signal_weights = {k: float(signal_weights.get(k, 0.0)) for k in SIGNAL_NAMES}
        self._cal_z = cal_z
        self._cal_score = [min(1.0, max(0.0, s)) for s in cal_score]

    def __repr__(self) -> str:
        if self._dim:
            return f"LearnedClassifier(name={self.name!r}, dim={self._dim})"
        return f"LearnedClassifier(name={self.name!r}, vocab={len(self._vocab)})"

    # -- loading --------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> LearnedClassifier:
        """Load a weights file (``.json.gz`` or ``.json``); the shipped weights by default."""
        if path is None:
            ref = resources.files("costroute.router") / "weights" / DEFAULT_WEIGHTS
            where = f"costroute/router/weights/{DEFAULT_WEIGHTS}"
            raw = ref.read_bytes()
        else:
            where = str(path)
            try:
                raw = Path(path).read_bytes()
            except OSError as exc:
                raise ConfigError(f"cannot read classifier weights {where}: {exc.strerror}") from exc
        try:
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            payload = json.loads(raw)
        except (OSError, EOFError, ValueError) as exc:
            raise ConfigError(f"{where}: not a classifier weights file ({exc})") from exc
        return cls.from_payload(payload, where=where)

    @classmethod
    def from_payload(cls, payload: Any, *, where: str = "<weights>") -> LearnedClassifier:
        """Build from a decoded weights document (see :func:`encode_weights`)."""
        if not isinstance(payload, Mapping) or payload.get("format") not in (FORMAT, VOCAB_FORMAT):
            raise ConfigError(f"{where}: not a {VOCAB_FORMAT} or {FORMAT} weights file")
        try:
            cal = payload["calibration"]
            if payload["format"] == VOCAB_FORMAT:
                dim, bigrams, hashed, vocab = 0, True, array("f"), _decode_vocab(payload, where)
            else:
                dim, bigrams, vocab = int(payload["dim"]), bool(payload["bigrams"]), None
                hashed = _decode_weights(payload["hash_weights"], dim, where)
            return cls(
                name=str(payload["name"]),
                dim=dim,
                bigrams=bigrams,
                bias=float(payload["bias"]),
                hash_weights=hashed,
                vocab=vocab,
                max_words=int(payload.get("max_words", GRAM_MAX_WORDS)),
                signal_weights={k: float(v) for k, v in payload["signal_weights"].items()},
                calibration=(cal["z"], cal["score"]),
                heuristic_weight=float(payload.get("heuristic_weight", 0.0)),
                metadata=payload.get("metadata") or {},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: malformed weights file ({exc!r})") from exc

    # -- scoring --------------------------------------------------------------------------

    def raw(self, messages: Messages) -> tuple[float, dict[str, float]]:
        """The uncalibrated model output (predicted quality gap) and its contributions."""
        ngrams = 0.0
        if not self._dim:
            grams, sig = gram_features(view_of(messages), max_words=self._max_words)
            norm = grams.norm
            if norm > 0:
                get = self._vocab.get
                ngrams = sum(map(get, grams.latest, repeat(0.0)))
                if grams.context:
                    ngrams += CONTEXT_WEIGHT * sum(map(get, grams.context, repeat(0.0)))
                ngrams /= norm
        else:
            terms, sig = features(view_of(messages), self._dim, bigrams=self._bigrams)
            if terms.norm > 0:
                weights = map(self._hash_weights.__getitem__, terms.indices)
                ngrams = sum(map(operator.mul, weights, terms.values)) / terms.norm
        contributions = {"bias": self._bias, "ngrams": ngrams}
        for k, v in sig.items():
            contributions[k] = self._signal_weights[k] * v
        contributions["heuristic"] = self._heuristic_weight * heuristic_logit(sig)
        return math.fsum(contributions.values()), contributions

    def calibrate(self, z: float) -> float:
        """Map a raw output to a difficulty in [0, 1] (monotone non-decreasing)."""
        xs, ys = self._cal_z, self._cal_score
        if z <= xs[0]:
            return ys[0]
        if z >= xs[-1]:
            return ys[-1]
        k = bisect_right(xs, z)
        x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
        return y0 + (y1 - y0) * (z - x0) / (x1 - x0)

    def classify(self, messages: Messages) -> Classification:
        z, contributions = self.raw(messages)
        score = self.calibrate(z)
        contributions["raw"] = z
        return Classification(score=score, label=label_for(score), signals=contributions, classifier=self.name)
