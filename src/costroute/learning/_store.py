"""Where the classifier learned from your traffic lives: ``$COSTROUTE_HOME/classifiers/``.

* ``traffic-<UTC time>.json.gz``: each promoted classifier's weights (its vocabulary holds words
  of your prompts, so files are written 0600 in a 0700 directory);
* ``active.json``: which one is active, on how many labels, with the figures that promoted it;
* ``history.jsonl``: every training run, promoted or kept, with its figures.

A policy uses the active one with ``classifier: own``; until a first promotion that is the
default classifier. Writes are atomic (a temporary file renamed into place).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from costroute._errors import ConfigError
from costroute.learning._promote import GateResult
from costroute.router._classifier import Classifier

__all__ = ["TrainingRun", "active_record", "classifiers_dir", "load_active", "read_history", "record_run"]

_ACTIVE = "active.json"
_HISTORY = "history.jsonl"


def classifiers_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """``<home>/classifiers``; ``home`` defaults to ``$COSTROUTE_HOME`` (else
    ``~/.local/share/costroute``), where the ledger lives too."""
    if home is None:
        from costroute.spend import default_data_dir

        return default_data_dir() / "classifiers"
    return Path(home).expanduser() / "classifiers"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def active_record(directory: Path) -> dict[str, Any] | None:
    """The active classifier's record, or ``None`` before a first promotion."""
    path = directory / _ACTIVE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable active-classifier record ({exc})") from exc
    if not isinstance(record, dict) or "weights" not in record:
        raise ConfigError(f"{path}: not an active-classifier record")
    return record


def load_active(directory: Path) -> Classifier | None:
    """The active learned classifier, or ``None`` before a first promotion."""
    from costroute.router import load_classifier

    record = active_record(directory)
    if record is None:
        return None
    return load_classifier(str(directory / str(record["weights"])))


def read_history(directory: Path) -> list[dict[str, Any]]:
    """Every recorded training run, oldest first (lines that do not parse are skipped)."""
    try:
        lines = (directory / _HISTORY).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            out.append(row)
    return out


@dataclass(frozen=True, slots=True)
class TrainingRun:
    """What :func:`record_run` wrote: the history row, and the weights file if promoted."""

    row: dict[str, Any]
    weights: Path | None


def record_run(
    directory: Path,
    result: GateResult,
    *,
    labels: int,
    by_source: Mapping[str, int],
    now: datetime | None = None,
) -> TrainingRun:
    """Record one training run; when it promoted its challenger, write the weights and make them
    active. ``labels``/``by_source`` say how many labels (and from which source) it learned from."""
    from costroute.evaluation._train import save_payload

    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    row: dict[str, Any] = {
        "at": now.isoformat(),
        "strong": result.strong,
        "weak": result.weak,
        "prompts": result.prompts,
        "labels": labels,
        "by_source": dict(by_source),
        "challenger_apgr": round(result.challenger_apgr, 4),
        "champion": result.champion,
        "champion_apgr": round(result.champion_apgr, 4),
        "champion_scored_on": result.champion_scored_on,
        "gain": round(result.gain, 4),
        "promoted": result.promoted,
        "reason": result.reason,
    }
    weights: Path | None = None
    if result.promoted:
        weights = directory / f"traffic-{stamp}.json.gz"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        save_payload(result.payload, weights)
        os.chmod(weights, 0o600)
        row["weights"] = weights.name
        _write(directory / _ACTIVE, json.dumps({**row, "name": result.payload.get("name", "")}, indent=2).encode())
    history = directory / _HISTORY
    previous = history.read_bytes() if history.exists() else b""
    _write(history, previous + (json.dumps(row, sort_keys=True) + "\n").encode())
    return TrainingRun(row, weights)
