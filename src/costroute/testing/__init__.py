"""Test doubles shipped with costroute: a loopback fake OpenAI-compatible server."""

from ._fake_server import FakeOpenAIServer, ModelScript

__all__ = ["FakeOpenAIServer", "ModelScript"]
