"""costroute.demo: a realistic workload routed through the real client against a loopback fake.

    >>> from costroute.demo import run_demo
    >>> report = run_demo(40)                              # doctest: +SKIP
    >>> report.savings_pct, [m.model for m in report.models]   # doctest: +SKIP

Used by ``costroute demo``; needs no key and no network beyond 127.0.0.1.
"""

from ._config import BASELINE, DEMO_KEY, DEMO_MODELS, DemoModel, demo_config
from ._run import DemoReport, ModelShare, Outcome, answer_of, run_demo, summarize
from ._workload import KINDS, WorkloadItem, build_workload

__all__ = [
    "BASELINE",
    "DEMO_KEY",
    "DEMO_MODELS",
    "KINDS",
    "DemoModel",
    "DemoReport",
    "ModelShare",
    "Outcome",
    "WorkloadItem",
    "answer_of",
    "build_workload",
    "demo_config",
    "run_demo",
    "summarize",
]
