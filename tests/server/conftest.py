"""Fixtures for the server tests: the loopback fake provider behind a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from costroute.spend import MemoryLedger
from costroute.testing import FakeOpenAIServer

UPSTREAM_KEY = "sk-upstream-sentinel-7f3a9c"
TEAM_KEY = "team-search-key-0123456789"
ADS_KEY = "ads-key-abcdef-987654"
ANSWER = "The capital of France is Paris and it has been for a very long time indeed."
EASY = [{"role": "user", "content": "What is the capital of France?"}]


def pool(fake: FakeOpenAIServer, **extra: Any) -> dict[str, Any]:
    """Two loopback models (cheap, strong), policies default and cheap, and ``extra`` on top."""
    return {
        "models": [
            {"name": "openai/cheap-model", "api_base": fake.base_url, "api_key": UPSTREAM_KEY, "quality": 0.6,
             "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
            {"name": "openai/strong-model", "api_base": fake.base_url, "api_key": UPSTREAM_KEY, "quality": 0.9,
             "price": {"input_per_mtok": 10, "output_per_mtok": 20}},
        ],
        "policies": {"default": {"baseline": "openai/strong-model"},
                     "cheap": {"models": ["openai/cheap-model"], "baseline": "openai/strong-model"}},
        **extra,
    }


class Running:
    """A uvicorn serving ``app`` on 127.0.0.1 in a thread of its own."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="on", timeout_graceful_shutdown=10))
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def __enter__(self) -> Running:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> Any:
        return self.app.state.costroute

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)


@pytest.fixture()
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture()
def serve(fake: FakeOpenAIServer) -> Iterator[Callable[..., Running]]:
    """``serve(config=None, **client_options)``: a running server (config default: :func:`pool`);
    ``ledger`` defaults to a fresh MemoryLedger, reachable as ``running.ledger``."""
    from costroute.server import create_app

    started: list[Running] = []

    def start(config: dict[str, Any] | None = None, **options: Any) -> Running:
        options.setdefault("ledger", MemoryLedger())
        running = Running(create_app(config or pool(fake), **options)).__enter__()
        running.ledger = options["ledger"]  # type: ignore[attr-defined]
        started.append(running)
        return running

    yield start
    for running in started:
        running.__exit__()
