"""costroute.router: difficulty classifiers.

    >>> from costroute.router import classify
    >>> classify([{"role": "user", "content": "What is the capital of France?"}]).label
    'easy'

:func:`classify` uses :func:`default_classifier`; pass ``classifier=`` to use another one
(anything with a ``name`` and a pure ``classify(messages)`` method, see :class:`Classifier`).
"""

from __future__ import annotations

import threading

from costroute.router._classifier import Classification, Classifier, Messages, label_for
from costroute.router._heuristic import HeuristicClassifier

__all__ = [
    "Classification",
    "Classifier",
    "HeuristicClassifier",
    "Messages",
    "classify",
    "default_classifier",
    "label_for",
]

_default: Classifier | None = None
_default_lock = threading.Lock()


def default_classifier() -> Classifier:
    """The classifier :func:`classify` uses by default, created once on first use.

    It is immutable, so sharing the one instance is safe.
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = HeuristicClassifier()
    return _default


def classify(messages: Messages, *, classifier: Classifier | None = None) -> Classification:
    """Score a conversation's difficulty with ``classifier``, or :func:`default_classifier`."""
    return (classifier if classifier is not None else default_classifier()).classify(messages)
