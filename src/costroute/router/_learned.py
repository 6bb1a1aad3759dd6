"""``learned-v2``: a linear model over hashed word n-grams and the heuristic's signals.

The model predicts the expected quality gap between a strong and a weak model on the prompt
(trained on recorded outcomes, see :mod:`costroute.evaluation._train`), adds a small multiple
of the hand-set heuristic's logit (a prior that holds up on tasks unlike the training data),
then maps that raw value through a monotone piecewise-linear calibration to a difficulty in [0, 1]: the share of
the training prompts that were predicted easier. Inference is pure Python (no numpy): the
weights file is gzipped JSON with the hashed weights as base64 little-endian float32.
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
from pathlib import Path
from typing import Any

from costroute._errors import ConfigError
from costroute.router._classifier import Classification, Messages, label_for
from costroute.router._features import SIGNAL_NAMES, features, view_of
from costroute.router._heuristic import heuristic_logit

__all__ = ["DEFAULT_WEIGHTS", "FORMAT", "LearnedClassifier", "encode_weights"]

FORMAT = "costroute-learned/1"
#: File name of the shipped weights inside ``costroute/router/weights/``.
DEFAULT_WEIGHTS = "learned-v2.json.gz"


def encode_weights(values: Sequence[float]) -> str:
    """Base64 of little-endian float32, as stored in weights files."""
    arr = array("f", values)
    if sys.byteorder == "big":
        arr.byteswap()
    return base64.b64encode(arr.tobytes()).decode("ascii")


def _decode_weights(text: str, dim: int, where: str) -> array[float]:
    arr = array("f")
    arr.frombytes(base64.b64decode(text))
    if sys.byteorder == "big":
        arr.byteswap()
    if len(arr) != dim:
        raise ConfigError(f"{where}: expected {dim} hashed weights, found {len(arr)}")
    return arr


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
        "_signal_weights",
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
    ) -> None:
        cal_z, cal_score = (list(map(float, c)) for c in calibration)
        if len(cal_z) != len(cal_score) or len(cal_z) < 2:
            raise ValueError("calibration needs two equally long lists of at least 2 knots")
        if any(b <= a for a, b in itertools.pairwise(cal_z)) or any(b < a for a, b in itertools.pairwise(cal_score)):
            raise ValueError("calibration knots must be increasing")
        if len(hash_weights) != dim:
            raise ValueError(f"expected {dim} hashed weights, got {len(hash_weights)}")
        self.name = name
        self.metadata: Mapping[str, Any] = dict(metadata or {})
        self._dim = dim
        self._bigrams = bigrams
        self._bias = float(bias)
        self._heuristic_weight = float(heuristic_weight)
        self._hash_weights = hash_weights
        self._signal_weights = {k: float(signal_weights.get(k, 0.0)) for k in SIGNAL_NAMES}
        self._cal_z = cal_z
        self._cal_score = [min(1.0, max(0.0, s)) for s in cal_score]

    def __repr__(self) -> str:
        return f"LearnedClassifier(name={self.name!r}, dim={self._dim})"

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
        if not isinstance(payload, Mapping) or payload.get("format") != FORMAT:
            raise ConfigError(f"{where}: not a {FORMAT} weights file")
        try:
            dim = int(payload["dim"])
            cal = payload["calibration"]
            return cls(
                name=str(payload["name"]),
                dim=dim,
                bigrams=bool(payload["bigrams"]),
                bias=float(payload["bias"]),
                hash_weights=_decode_weights(payload["hash_weights"], dim, where),
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
        terms, sig = features(view_of(messages), self._dim, bigrams=self._bigrams)
        ngrams = 0.0
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
