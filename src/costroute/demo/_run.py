"""Replaying the recorded sample through the real client.

:func:`run_demo` does the I/O: a loopback :class:`~costroute.testing.FakeOpenAIServer` replays
each model's recorded answer to each question (billing the recorded usage), a real
:class:`~costroute.Client` routes every question once per setting through litellm's real code
path, and every request is recorded in the ledger it is given, tagged ``source=demo`` and
``run=<id>``. The report's money is read back from that ledger.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from ..pricing import PriceRegistry, PriceSheet
from ._config import SETTINGS, Setting, replay_config
from ._report import Answered, DemoReport, summarize
from ._sample import Sample, SampleModel, SampleRow, load_sample, trained_on

if TYPE_CHECKING:
    from ..spend import Ledger
    from ..testing import FakeOpenAIServer

__all__ = ["TAG_SOURCE", "recorded_answer", "run_demo"]

#: The ``source`` tag of every demo request.
TAG_SOURCE = "demo"


def recorded_answer(row: SampleRow, model: SampleModel) -> str:
    """The fake's answer: RouteLLM recorded whether each answer was right, not its text."""
    return f"[{model.label}'s recorded answer to {row.id}: {'correct' if row.scores[model.name] else 'wrong'}]"


def _load_replies(fake: FakeOpenAIServer, sample: Sample) -> None:
    from ..testing import Reply

    for model in sample.models:
        wire = model.name.split("/", 1)[1]  # litellm sends the id without its provider prefix
        fake.replay(wire, {
            r.prompt: Reply(recorded_answer(r, model), prompt_tokens=r.prompt_tokens,
                            completion_tokens=r.completion_tokens)
            for r in sample.rows
        })


def _sheets(sample: Sample, registry: PriceRegistry) -> dict[str, PriceSheet]:
    """The price each model is billed at: the registry's, else the sample's (as in the config)."""
    return {
        m.name: registry.find(m.name) or PriceSheet(
            model=m.name, input_per_mtok=Decimal(m.price["input_per_mtok"]),
            output_per_mtok=Decimal(m.price["output_per_mtok"]), source="config")
        for m in sample.models
    }


def run_demo(
    prompts: int | None = None,
    *,
    ledger: Ledger,
    settings: Sequence[Setting] = SETTINGS,
    server: FakeOpenAIServer | None = None,
    on_request: Callable[[int, int], None] | None = None,
    run_id: str | None = None,
    classifier: str = "default",
) -> DemoReport:
    """Route the first ``prompts`` questions of the sample (all by default) once per setting,
    scoring difficulty with ``classifier`` (a name or a weights file, as in a policy).

    The provider is a :class:`~costroute.testing.FakeOpenAIServer` on 127.0.0.1 (started and
    stopped here unless ``server`` is given): no key, no network beyond loopback. Every request is
    written to ``ledger`` (tags ``source=demo``, ``run=run_id``). ``on_request(done, total)`` is
    called after each request.
    """
    from .. import Client
    from ..providers import import_litellm
    from ..router import load_classifier
    from ..testing import FakeOpenAIServer

    sample = load_sample()
    rows = sample.rows[:prompts] if prompts is not None else sample.rows
    run = run_id or secrets.token_hex(4)
    tags = {"source": TAG_SOURCE, "run": run}
    fake = server if server is not None else FakeOpenAIServer().start()
    try:
        _load_replies(fake, sample)
        registry = PriceRegistry.default(plugins=False)
        import_litellm()  # loaded before the clock starts, like a warm client
        started = time.perf_counter()
        answers: list[Answered] = []
        total = len(rows) * len(settings)
        config = replay_config(sample, fake.base_url, settings=tuple(settings), classifier=classifier,
                               registry=registry)
        with Client(config, ledger=ledger, registry=registry) as client:
            for s in settings:
                for row in rows:
                    resp = client.chat.completions.create(
                        messages=row.messages, policy=s.name, tags=tags, temperature=0, max_tokens=1)
                    info = resp.costroute
                    answers.append(Answered(s.name, row.id, info.model, info.tier, info.difficulty,
                                            row.scores[info.model], info.request_id))
                    if on_request is not None:
                        on_request(len(answers), total)
        totals = {r.group["policy"]: r for r in ledger.summary(group_by=["policy"], tags=tags)}
        elapsed = time.perf_counter() - started
        scorer = load_classifier(classifier)
        report = summarize(
            answers, totals, sample=sample, rows=rows, settings=settings, sheets=_sheets(sample, registry),
            run_id=run, classifier=getattr(scorer, "name", type(scorer).__name__),
            in_sample=trained_on(getattr(scorer, "metadata", None), sample),
        )
        return dataclasses.replace(report, tags=tags, elapsed_s=elapsed)
    finally:
        if server is None:
            fake.stop()
