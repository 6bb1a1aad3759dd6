"""A bundled table of model quality in [0, 1], so that ``quality:`` may be omitted for known models.

The figures are coarse: a blend of public leaderboard standings (Chatbot Arena, MMLU-Pro, GPQA and
coding benchmarks) as of late 2025, rescaled so that 0.8 marks "premium" (frontier-class answers on
hard reasoning and code) and 0.6 marks "standard". Measure your own traffic with ``costroute
calibrate`` and set ``quality:`` in the config where it matters.
"""

from __future__ import annotations

import re

__all__ = ["known_quality"]

_TABLE: dict[str, float] = {
    "gpt-5": 0.95, "gpt-5-mini": 0.86, "gpt-5-nano": 0.66, "gpt-4.1": 0.87, "gpt-4.1-mini": 0.74,
    "gpt-4.1-nano": 0.55, "gpt-4o": 0.84, "gpt-4o-mini": 0.62, "gpt-4-turbo": 0.8, "gpt-4": 0.76,
    "gpt-3.5-turbo": 0.45, "o1": 0.92, "o3": 0.95, "o3-mini": 0.87, "o4-mini": 0.89,
    "claude-opus-4-1": 0.95, "claude-opus-4": 0.94, "claude-sonnet-4-5": 0.94, "claude-sonnet-4": 0.91,
    "claude-3-7-sonnet": 0.89, "claude-3-5-sonnet": 0.86, "claude-haiku-4-5": 0.82,
    "claude-3-5-haiku": 0.64, "claude-3-haiku": 0.48, "claude-3-opus": 0.8,
    "gemini-2.5-pro": 0.93, "gemini-2.5-flash": 0.82, "gemini-2.5-flash-lite": 0.66,
    "gemini-2.0-flash": 0.7, "gemini-2.0-flash-lite": 0.6, "gemini-1.5-pro": 0.76,
    "gemini-1.5-flash": 0.56, "deepseek-chat": 0.85, "deepseek-reasoner": 0.9,
    "llama-3.1-405b-instruct": 0.8, "llama-3.3-70b-instruct": 0.74, "llama-3.1-70b-instruct": 0.7,
    "llama-3.1-8b-instruct": 0.42, "llama-3.1-8b-instant": 0.42, "llama-3.3-70b-versatile": 0.74,
    "mixtral-8x7b-instruct": 0.45, "mixtral-8x22b-instruct": 0.58, "mistral-large": 0.8,
    "mistral-small": 0.6, "mistral-7b-instruct": 0.35, "qwen2.5-72b-instruct": 0.77,
    "qwen2.5-7b-instruct": 0.48,
    "gpt-oss-20b": 0.72, "gpt-oss-120b": 0.83, "gemma-2-9b-it": 0.45, "gemma-2-27b-it": 0.58,
}

_DATE = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4}|-latest|-preview(-\d+)?|-v\d+(\.\d+)*(:\d+)?)$")


def known_quality(model: str) -> float | None:
    """The bundled quality of ``model`` (provider prefix, dates and version suffixes ignored)."""
    name = model.lower().rsplit("/", 1)[-1]
    for _ in range(3):
        if name in _TABLE:
            return _TABLE[name]
        stripped = _DATE.sub("", name)
        if stripped == name:
            break
        name = stripped
    return _TABLE.get(name)
