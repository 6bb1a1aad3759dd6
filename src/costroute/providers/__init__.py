"""Providers: the only code that imports litellm, and the one place provider errors are mapped."""

from ._errors import map_provider_error, redact
from ._litellm import (
    Completer,
    LiteLLMCompleter,
    ProviderCall,
    chunk_from_dict,
    copy_response,
    import_litellm,
    response_from_dict,
)

__all__ = [
    "Completer",
    "LiteLLMCompleter",
    "ProviderCall",
    "chunk_from_dict",
    "copy_response",
    "import_litellm",
    "map_provider_error",
    "redact",
    "response_from_dict",
]
