"""Fixtures for the demo tests: the shipped sample, and one replay of part of it, shared."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from costroute.demo import DemoReport, Sample, load_sample, run_demo
from costroute.spend import MemoryLedger
from costroute.testing import FakeOpenAIServer

#: Questions per replay in the tests (the whole sample takes a few seconds more).
QUESTIONS = 24


@pytest.fixture(scope="session")
def sample() -> Sample:
    return load_sample()


@pytest.fixture(scope="module")
def replay() -> Iterator[tuple[DemoReport, MemoryLedger, FakeOpenAIServer]]:
    """One replay of the first :data:`QUESTIONS` questions, into a ledger that keeps prompts."""
    ledger = MemoryLedger(store_prompts=True)
    with FakeOpenAIServer() as fake:
        yield run_demo(QUESTIONS, ledger=ledger, server=fake, run_id="t35t"), ledger, fake
