"""costroute.router: difficulty classifiers.

    >>> from costroute.router import classify
    >>> classify([{"role": "user", "content": "What is the capital of France?"}]).label
    'easy'

:func:`classify` uses :func:`default_classifier`; pass ``classifier=`` to use another one
(anything with a ``name`` and a pure ``classify(messages)`` method, see :class:`Classifier`).
"""

from __future__ import annotations

import os
import threading

from costroute._errors import ConfigError as _ConfigError
from costroute.router._blend import BlendClassifier
from costroute.router._classifier import Classification, Classifier, Messages, label_for
from costroute.router._heuristic import HeuristicClassifier
from costroute.router._learned import LearnedClassifier

__all__ = [
    "BlendClassifier",
    "Classification",
    "Classifier",
    "HeuristicClassifier",
    "LearnedClassifier",
    "Messages",
    "classify",
    "default_classifier",
    "label_for",
    "load_classifier",
]

_default: Classifier | None = None
_default_lock = threading.Lock()


def default_classifier() -> Classifier:
    """The classifier :func:`classify` uses by default (the shipped ``blend-v1``: prompt length
    with a small surface-feature correction, see :class:`BlendClassifier`), loaded once on first
    use. It is immutable, so sharing the one instance is safe."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = BlendClassifier.load()
    return _default


def load_classifier(path_or_name: str | os.PathLike[str]) -> Classifier:
    """A classifier by name (``"default"``, ``"own"``, ``"blend"``, ``"heuristic"``, ``"learned"``
    or a classifier's ``name`` such as ``"heuristic-v1"``) or from a weights file (``costroute
    train`` writes them). ``"own"`` is the one learned from your traffic and promoted by ``costroute
    train --from-ledger``, the default until then.

    ``"default"`` returns the shared :func:`default_classifier` instance; the others load anew.
    """
    name = os.fspath(path_or_name)
    if name == "default":
        return default_classifier()
    if name == "own":
        return _own()
    if name in ("heuristic", HeuristicClassifier.name):
        return HeuristicClassifier()
    if name in ("blend", "blend-v1"):
        return BlendClassifier.load()
    if name in ("learned", "learned-v2"):
        return LearnedClassifier.load()
    return _load_file(name)


def _own() -> Classifier:
    """The classifier promoted by ``costroute train --from-ledger`` (in
    ``$COSTROUTE_HOME/classifiers``), or the default before a first promotion."""
    from costroute.learning._store import classifiers_dir, load_active

    return load_active(classifiers_dir()) or default_classifier()


def _load_file(path: str) -> Classifier:
    """A weights file of either format, told apart by its ``format`` field."""
    from costroute.router._blend import BLEND_FORMAT

    try:
        clf: Classifier = BlendClassifier.load(path)
    except _ConfigError as exc:
        if f"not a {BLEND_FORMAT} weights file" not in str(exc):
            raise
        clf = LearnedClassifier.load(path)
    return clf


def classify(messages: Messages, *, classifier: Classifier | None = None) -> Classification:
    """Score a conversation's difficulty with ``classifier``, or :func:`default_classifier`."""
    return (classifier if classifier is not None else default_classifier()).classify(messages)
