"""Translating litellm's and the provider SDKs' exceptions into costroute's tree, in one place."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime

import httpx

from .. import _errors as e

__all__ = ["map_provider_error", "redact"]

_BY_NAME: dict[str, type[e.ProviderError]] = {
    "ContextWindowExceededError": e.ContextWindowExceededError,
    "AuthenticationError": e.AuthenticationError,
    "PermissionDeniedError": e.AuthenticationError,
    "RateLimitError": e.RateLimitError,
    "Timeout": e.ProviderTimeoutError,
    "APITimeoutError": e.ProviderTimeoutError,
    "APIConnectionError": e.ProviderConnectionError,
    "ServiceUnavailableError": e.ProviderServerError,
    "InternalServerError": e.ProviderServerError,
    "BadGatewayError": e.ProviderServerError,
    "BadRequestError": e.BadRequestError,
    "NotFoundError": e.BadRequestError,
    "UnprocessableEntityError": e.BadRequestError,
    "UnsupportedParamsError": e.BadRequestError,
    "ContentPolicyViolationError": e.BadRequestError,
}


def _by_status(status: int) -> type[e.ProviderError]:
    if status in (401, 403):
        return e.AuthenticationError
    if status == 429:
        return e.RateLimitError
    if status in (408, 504):
        return e.ProviderTimeoutError
    if status >= 500:
        return e.ProviderServerError
    return e.BadRequestError


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (of a useful length) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    return text


def _headers(exc: BaseException) -> Mapping[str, str]:
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    return headers if isinstance(headers, Mapping | httpx.Headers) else {}


def _retry_after(exc: BaseException) -> float | None:
    headers = _headers(exc)
    raw = None
    for name in ("retry-after-ms", "retry-after"):
        value = headers.get(name) if hasattr(headers, "get") else None
        if value is not None:
            raw = (name, str(value))
            break
    if raw is None:
        return None
    name, value = raw
    try:
        seconds = float(value)
        return seconds / 1000 if name == "retry-after-ms" else seconds
    except ValueError:
        pass
    try:
        from datetime import datetime, timezone

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None


def map_provider_error(exc: BaseException, *, model: str, secrets: Iterable[str] = ()) -> e.ProviderError:
    """The costroute error for a provider failure; the caller raises it ``from exc``."""
    status = getattr(exc, "status_code", None)
    cls: type[e.ProviderError] | None = None
    for klass in type(exc).__mro__:
        cls = _BY_NAME.get(klass.__name__)
        if cls is not None:
            break
    if cls is None or (cls is e.BadRequestError and isinstance(status, int) and status >= 500):
        if isinstance(exc, asyncio.TimeoutError | TimeoutError | httpx.TimeoutException):
            cls = e.ProviderTimeoutError
        elif isinstance(exc, httpx.TransportError | ConnectionError):
            cls = e.ProviderConnectionError
        elif isinstance(status, int):
            cls = _by_status(status)
        else:
            cls = e.ProviderError
    message = redact(str(exc) or type(exc).__name__, secrets)
    return cls(
        f"{model}: {message}", model=model,
        status_code=status if isinstance(status, int) else None,
        retry_after=_retry_after(exc), body=None,
    )

