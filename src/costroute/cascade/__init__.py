r"""costroute.cascade: answer-aware escalation, as a pure state machine.

A cascade tries cheap models first and accepts a step's answer only when a verifier vouches for
it (independent cheap answers agree, the answer's token logprobs are confident, or a judge model
grades it well); otherwise it escalates, ending with the ``final`` model. Nothing here does I/O:
:class:`CascadeRun` says which calls to make and is handed their results, so the client's request
loop and the offline replay (``costroute eval --strategy cascade``) run the same decisions.

    >>> from costroute.cascade import Answer, AgreementVerifier, Cascade
    >>> cascade = Cascade(["small"], "big", [AgreementVerifier(("tiny",), min=1)])
    >>> run = cascade.start([{"role": "user", "content": "2+2?\nA) 3\nB) 4"}])
    >>> [c.model for c in run.next_calls()]           # the step, and the agreement model with it
    ['small', 'tiny']
    >>> run.receive("answer:small", Answer("B"))
    >>> run.receive("answer:tiny", Answer("(B) 4"))
    >>> run.next_calls(), run.outcome.model, run.outcome.accepted_by
    ((), 'small', 'agreement')

See :mod:`costroute.cascade._run` for how a driver makes the calls.
"""

from __future__ import annotations

from costroute.cascade._choice import choice_letter
from costroute.cascade._code import CanonicalCode, canonical_code, extract_code
from costroute.cascade._config import (
    AcceptConfig,
    AgreementConfig,
    CascadeConfig,
    JudgeConfig,
    LogprobConfig,
    StepConfig,
)
from costroute.cascade._normalize import NORMALIZERS, Normalized, normalize, similarity
from costroute.cascade._numbers import final_number, parse_number
from costroute.cascade._prompt import KINDS, Kind, Prompt, detect_kind
from costroute.cascade._registry import ENTRY_POINT_GROUP, VerifierFactory, VerifierRegistry
from costroute.cascade._run import (
    Call,
    CallRecord,
    Cascade,
    CascadeOutcome,
    CascadeRun,
    PlannedCall,
    Step,
    StepTrace,
)
from costroute.cascade._verifiers import (
    DEFAULT_MIN_SIMILARITY,
    DEFAULT_RUBRIC,
    AgreementVerifier,
    Answer,
    Check,
    JudgeVerifier,
    LogprobVerifier,
    Need,
    Verdict,
    Verifier,
    parse_judge_score,
)

__all__ = [
    "DEFAULT_MIN_SIMILARITY",
    "DEFAULT_RUBRIC",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "NORMALIZERS",
    "AcceptConfig",
    "AgreementConfig",
    "AgreementVerifier",
    "Answer",
    "Call",
    "CallRecord",
    "CanonicalCode",
    "Cascade",
    "CascadeConfig",
    "CascadeOutcome",
    "CascadeRun",
    "Check",
    "JudgeConfig",
    "JudgeVerifier",
    "Kind",
    "LogprobConfig",
    "LogprobVerifier",
    "Need",
    "Normalized",
    "PlannedCall",
    "Prompt",
    "Step",
    "StepConfig",
    "StepTrace",
    "Verdict",
    "Verifier",
    "VerifierFactory",
    "VerifierRegistry",
    "canonical_code",
    "choice_letter",
    "detect_kind",
    "extract_code",
    "final_number",
    "normalize",
    "parse_judge_score",
    "parse_number",
    "similarity",
]
