"""costroute: send every LLM request to the cheapest model that meets its quality tier.

    >>> from costroute import Client
    >>> client = Client.from_config("costroute.yaml")            # doctest: +SKIP
    >>> resp = client.chat.completions.create(messages=[...])    # doctest: +SKIP
    >>> resp.costroute.model, resp.costroute.cost_usd            # doctest: +SKIP

Importing costroute is cheap: litellm and tiktoken load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import (
    AuthenticationError,
    BadRequestError,
    BatchError,
    BudgetExceeded,
    BudgetStoreUnavailable,
    CacheUnavailable,
    ConfigError,
    ContextWindowExceededError,
    CostrouteError,
    LedgerUnavailable,
    NoAdequateModelError,
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderServerError,
    ProviderTimeoutError,
    RateLimitError,
    RequestValidationError,
    UnknownModelPriceError,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._client import AsyncClient, Client
    from ._types import RouteInfo

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchError",
    "BudgetExceeded",
    "BudgetStoreUnavailable",
    "CacheUnavailable",
    "Client",
    "ConfigError",
    "ContextWindowExceededError",
    "CostrouteError",
    "LedgerUnavailable",
    "NoAdequateModelError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderResponseError",
    "ProviderServerError",
    "ProviderTimeoutError",
    "RateLimitError",
    "RequestValidationError",
    "RouteInfo",
    "UnknownModelPriceError",
    "__version__",
]

_LAZY = {"Client": "._client", "AsyncClient": "._client", "RouteInfo": "._types"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'costroute' has no attribute {name!r}")
