"""Test doubles shipped with costroute: a loopback fake OpenAI-compatible server that can replay
recorded answers."""

from ._fake_server import FakeOpenAIServer, ModelScript, Reply

__all__ = ["FakeOpenAIServer", "ModelScript", "Reply"]
