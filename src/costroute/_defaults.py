"""The embedded default configuration: a policy over the models whose provider keys are set.

The environment is read here and nowhere else in the client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ._errors import ConfigError
from .policies import CostrouteConfig, load_config

__all__ = ["PROVIDER_MODELS", "default_config"]

#: Environment variable -> the models offered when it is set, cheapest first.
PROVIDER_MODELS: dict[str, tuple[str, ...]] = {
    "OPENAI_API_KEY": ("openai/gpt-4o-mini", "openai/gpt-4.1-mini", "openai/gpt-4o"),
    "ANTHROPIC_API_KEY": ("anthropic/claude-haiku-4-5", "anthropic/claude-sonnet-4-5"),
    "GEMINI_API_KEY": ("gemini/gemini-2.5-flash-lite", "gemini/gemini-2.5-flash", "gemini/gemini-2.5-pro"),
    "GROQ_API_KEY": ("groq/openai/gpt-oss-20b", "groq/openai/gpt-oss-120b"),
    "DEEPSEEK_API_KEY": ("deepseek/deepseek-chat",),
}


def default_config(environ: Mapping[str, str] | None = None) -> CostrouteConfig:
    """``$COSTROUTE_CONFIG`` when set, else one policy over every provider with a key."""
    env = os.environ if environ is None else environ
    path = env.get("COSTROUTE_CONFIG")
    if path:
        return load_config(path, environ=env)
    models = [
        {"name": model, "api_key": "${" + var + "}"}
        for var, names in PROVIDER_MODELS.items() if env.get(var)
        for model in names
    ]
    if not models:
        raise ConfigError(
            "no configuration given and no provider key found in the environment: set one of "
            + ", ".join(PROVIDER_MODELS) + ", or pass a config (Client.from_config('costroute.yaml'))"
        )
    return load_config({"models": models}, environ=env)
