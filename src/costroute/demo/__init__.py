"""costroute.demo: recorded outcomes replayed through the real client against a loopback fake.

    >>> from costroute.demo import run_demo
    >>> from costroute.spend import MemoryLedger
    >>> report = run_demo(ledger=MemoryLedger())                        # doctest: +SKIP
    >>> [(s.name, s.quality_kept, s.savings_pct) for s in report.settings]   # doctest: +SKIP

228 MMLU questions with the recorded correctness of GPT-4 Turbo's and Mixtral-8x7B's answers
(lm-sys/RouteLLM, Apache-2.0; questions: MMLU, MIT) are routed once per setting (cheaper,
default, safer); quality kept is the recorded score of the model each request went to, against
always calling the baseline. Used by ``costroute demo``; needs no key and no network beyond
127.0.0.1. :func:`demo_config` is ``costroute route``'s built-in pool.
"""

from ._config import BASELINE, DEMO_KEY, DEMO_MODELS, SETTINGS, DemoModel, Setting, demo_config, replay_config
from ._report import Answered, DemoReport, ModelLine, SettingResult, SingleModel, summarize
from ._run import TAG_SOURCE, recorded_answer, run_demo
from ._sample import Sample, SampleModel, SampleRow, load_sample, trained_on
from ._workload import KINDS, WorkloadItem, build_workload

__all__ = [
    "BASELINE",
    "DEMO_KEY",
    "DEMO_MODELS",
    "KINDS",
    "SETTINGS",
    "TAG_SOURCE",
    "Answered",
    "DemoModel",
    "DemoReport",
    "ModelLine",
    "Sample",
    "SampleModel",
    "SampleRow",
    "Setting",
    "SettingResult",
    "SingleModel",
    "WorkloadItem",
    "build_workload",
    "demo_config",
    "load_sample",
    "recorded_answer",
    "replay_config",
    "run_demo",
    "summarize",
    "trained_on",
]
