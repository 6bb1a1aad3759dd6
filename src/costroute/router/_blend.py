"""``blend-v1``: prompt length, with a small learned correction from cheap surface features.

Measured with whole tasks and whole data sets held out (``benchmarks/bench_classifier.py``),
no learned model tried beat the length of the prompt at ranking prompts by how much they need a
stronger model; the n-gram model ``learned-v2`` and per-model quality heads fell below it, often
below random. So the default is the simple rule, softened: the difficulty is

    calibrate(w * F_len(log chars) + (1 - w) * F_surf(linear model on surface features))

where ``F_len`` and ``F_surf`` are the distributions of the two parts over the development
prompts (so both are shares in [0, 1] and the weight ``w`` means what it says) and the final
calibration maps the blend to the share of development prompts scored lower (so policy
thresholds keep meaning "the hardest x % of prompts like these"). The surface model is a ridge
regression of the strong-minus-weak quality gap on :func:`~costroute.router._features.surface_features`,
trained on every development set with its own pair. Pure Python; the weights are a few KB.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import os
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from costroute._errors import ConfigError
from costroute.router._classifier import Classification, Messages, label_for
from costroute.router._features import SURFACE_NAMES, surface_features, view_of

__all__ = ["BLEND_FORMAT", "DEFAULT_BLEND_WEIGHTS", "BlendClassifier", "Knots"]

#: Weights document format of :class:`BlendClassifier`.
BLEND_FORMAT = "costroute-blend/1"
#: File name of the shipped weights inside ``costroute/router/weights/``.
DEFAULT_BLEND_WEIGHTS = "blend-v1.json.gz"


class Knots:
    """A monotone piecewise-linear map, flat beyond its ends (``xs`` strictly increasing)."""

    __slots__ = ("xs", "ys")

    def __init__(self, xs: Sequence[float], ys: Sequence[float], *, where: str = "knots") -> None:
        self.xs = [float(x) for x in xs]
        self.ys = [float(y) for y in ys]
        if len(self.xs) != len(self.ys) or len(self.xs) < 2:
            raise ValueError(f"{where}: need two equally long lists of at least 2 knots")
        if not all(map(math.isfinite, self.xs + self.ys)):
            raise ValueError(f"{where}: knots must be finite numbers")
        if any(b <= a for a, b in itertools.pairwise(self.xs)) or any(b < a for a, b in itertools.pairwise(self.ys)):
            raise ValueError(f"{where}: knots must be increasing")

    def __call__(self, x: float) -> float:
        xs, ys = self.xs, self.ys
        if x <= xs[0]:
            return ys[0]
        if x >= xs[-1]:
            return ys[-1]
        k = bisect_right(xs, x)
        x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)

    def as_dict(self) -> dict[str, list[float]]:
        return {"x": list(self.xs), "y": list(self.ys)}


class BlendClassifier:
    """Difficulty as a blend of prompt length and a surface-feature model. Immutable; pure and
    deterministic. Use :meth:`load` (the shipped ``blend-v1`` by default)."""

    __slots__ = (
        "_bias", "_calibration", "_length", "_length_weight", "_mean", "_surface", "_weights", "metadata", "name",
    )

    def __init__(
        self,
        *,
        name: str,
        length_weight: float,
        length_knots: Knots,
        surface_knots: Knots,
        calibration: Knots,
        bias: float,
        weights: Sequence[float],
        mean: Sequence[float],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """``weights`` and ``mean`` have one entry per :data:`SURFACE_NAMES` feature: the surface
        model is ``bias + sum(weights[i] * (x[i] - mean[i]))``."""
        if not 0.0 <= length_weight <= 1.0:
            raise ValueError(f"length_weight must be in [0, 1], got {length_weight!r}")
        if len(weights) != len(SURFACE_NAMES) or len(mean) != len(SURFACE_NAMES):
            raise ValueError(f"expected {len(SURFACE_NAMES)} surface weights and means")
        if not all(map(math.isfinite, [bias, *weights, *mean])):
            raise ValueError("surface weights must be finite numbers")
        self.name = name
        self.metadata: Mapping[str, Any] = dict(metadata or {})
        self._length_weight = float(length_weight)
        self._length = length_knots
        self._surface = surface_knots
        self._calibration = calibration
        self._bias = float(bias)
        self._weights = [float(w) for w in weights]
        self._mean = [float(m) for m in mean]

    def __repr__(self) -> str:
        return f"BlendClassifier(name={self.name!r}, length_weight={self._length_weight})"

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> BlendClassifier:
        """Load a weights file (``.json.gz`` or ``.json``); the shipped ``blend-v1`` by default."""
        if path is None:
            where = f"costroute/router/weights/{DEFAULT_BLEND_WEIGHTS}"
            raw = (resources.files("costroute.router") / "weights" / DEFAULT_BLEND_WEIGHTS).read_bytes()
        else:
            where = str(path)
            try:
                raw = Path(path).read_bytes()
            except OSError as exc:
                raise ConfigError(f"cannot read classifier weights {where}: {exc.strerror}") from exc
        try:
            payload = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
        except (OSError, EOFError, ValueError) as exc:
            raise ConfigError(f"{where}: not a classifier weights file ({exc})") from exc
        return cls.from_payload(payload, where=where)

    @classmethod
    def from_payload(cls, payload: Any, *, where: str = "<weights>") -> BlendClassifier:
        """Build from a decoded :data:`BLEND_FORMAT` document."""
        if not isinstance(payload, Mapping) or payload.get("format") != BLEND_FORMAT:
            raise ConfigError(f"{where}: not a {BLEND_FORMAT} weights file")
        try:
            surface = payload["surface"]
            if list(surface["features"]) != list(SURFACE_NAMES):
                raise ValueError("its surface features are not this version's")
            return cls(
                name=str(payload["name"]),
                length_weight=float(payload["length_weight"]),
                length_knots=Knots(payload["length_knots"]["x"], payload["length_knots"]["y"], where="length_knots"),
                surface_knots=Knots(
                    payload["surface_knots"]["x"], payload["surface_knots"]["y"], where="surface_knots"
                ),
                calibration=Knots(payload["calibration"]["x"], payload["calibration"]["y"], where="calibration"),
                bias=float(surface["bias"]),
                weights=[float(w) for w in surface["weights"]],
                mean=[float(m) for m in surface["mean"]],
                metadata=payload.get("metadata") or {},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: malformed weights file ({exc!r})") from exc

    def parts(self, messages: Messages) -> tuple[float, float, dict[str, float]]:
        """The length share, the surface share (both in [0, 1]) and the signals."""
        x, sig, chars = surface_features(view_of(messages))
        raw = self._bias + math.fsum(w * (v - m) for w, v, m in zip(self._weights, x, self._mean, strict=True))
        return self._length(math.log1p(chars)), self._surface(raw), sig

    def classify(self, messages: Messages) -> Classification:
        length, surface, sig = self.parts(messages)
        blend = self._length_weight * length + (1.0 - self._length_weight) * surface
        score = min(1.0, max(0.0, self._calibration(blend)))
        signals = {**sig, "length_share": length, "surface_share": surface, "raw": blend}
        return Classification(score=score, label=label_for(score), signals=signals, classifier=self.name)
