"""Providers: the only code that imports litellm, the one place provider errors are mapped, and the
one table of provider quirks (wire format, usage, prompt caching, flex, priority and batch rules)."""

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
from ._table import (
    PROVIDER_RULES,
    BatchRules,
    CacheRules,
    FlexRules,
    ProviderRules,
    TierPriceRule,
    WireFormat,
    provider_rules,
)

__all__ = [
    "PROVIDER_RULES",
    "BatchRules",
    "CacheRules",
    "Completer",
    "FlexRules",
    "LiteLLMCompleter",
    "ProviderCall",
    "ProviderRules",
    "TierPriceRule",
    "WireFormat",
    "chunk_from_dict",
    "copy_response",
    "import_litellm",
    "map_provider_error",
    "provider_rules",
    "redact",
    "response_from_dict",
]
