"""costroute.learning: learning routing from the user's own traffic.

The pure parts the request loop uses (nothing here calls a model or reads a store):

* :class:`ShadowSampler` picks which live requests are also answered by a reference model;
* :func:`pairwise_prompts`, :func:`parse_verdict` and :func:`swapped_label` make a position-swapped
  pairwise judge of the routed answer against the reference answer, giving a label in [0, 1];
* :func:`merge_labels` and :func:`traffic_outcomes` turn labels (application feedback overrides
  the judge) and ledger records into training rows for ``costroute train --from-ledger``.
"""

from __future__ import annotations

from costroute.learning._judge import (
    DEFAULT_RUBRIC,
    JudgeRubric,
    Verdict,
    judge_scores,
    pairwise_prompts,
    parse_verdict,
    question_text,
    swapped_label,
)
from costroute.learning._labels import (
    LABEL_SOURCES,
    Label,
    LabelledRecord,
    TrafficOutcomes,
    labels_from_feedback,
    merge_labels,
    traffic_outcomes,
)
from costroute.learning._shadow import ShadowDecision, ShadowSampler

__all__ = [
    "DEFAULT_RUBRIC",
    "LABEL_SOURCES",
    "JudgeRubric",
    "Label",
    "LabelledRecord",
    "ShadowDecision",
    "ShadowSampler",
    "TrafficOutcomes",
    "Verdict",
    "judge_scores",
    "labels_from_feedback",
    "merge_labels",
    "pairwise_prompts",
    "parse_verdict",
    "question_text",
    "swapped_label",
    "traffic_outcomes",
]
