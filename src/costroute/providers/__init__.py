"""Providers: the only code that imports litellm, and the one place provider errors are mapped."""

from ._errors import map_provider_error, redact
from ._litellm import Completer, LiteLLMCompleter, ProviderCall, import_litellm

__all__ = [
    "Completer",
    "LiteLLMCompleter",
    "ProviderCall",
    "import_litellm",
    "map_provider_error",
    "redact",
]
