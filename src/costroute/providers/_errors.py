"""Translating litellm's and the provider SDKs' exceptions into costroute's tree, in one place."""

from __future__ import annotations

import asyncio
import contextlib
import math
import traceback
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


_MIN_SECRET = 4  # shorter values would redact ordinary words


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (of at least 4 characters) replaced by ``***``."""
    for secret in sorted({s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it was raised from or during, outermost first."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [x for x in (current.__cause__, current.__context__) if x is not None]
    return seen


def _scrub(chain: Iterable[BaseException], secrets: Iterable[str]) -> None:
    """Make the whole chain safe to keep, log or report: every secret redacted from every value an
    exception holds (arguments, messages, bodies, nested dicts), the HTTP request and response
    objects dropped (their headers carry the key), and the locals of finished frames cleared (an
    error reporter that captures locals would find the key in litellm's). The provider's
    exception stays the ``__cause__``, with its type, message and line numbers, for debugging."""
    keys = [s for s in secrets if s and len(s) >= _MIN_SECRET]
    for exc in chain:
        if keys:
            exc.args = tuple(_redacted(a, keys) for a in exc.args)
        for name, value in list(vars(exc).items()):
            if isinstance(value, httpx.Request | httpx.Response):
                clean: object = None
            elif keys:
                clean = _redacted(value, keys)
            else:
                continue
            if clean is not value:
                with contextlib.suppress(AttributeError, TypeError):  # a read-only attribute stays as it is
                    setattr(exc, name, clean)
        if exc.__traceback__ is not None:
            traceback.clear_frames(exc.__traceback__)  # skips frames still running


def _redacted(value: object, keys: list[str], depth: int = 0) -> object:
    """``value`` with the secrets removed from its strings, however deep in lists and dicts."""
    if isinstance(value, str):
        return redact(value, keys) if any(k in value for k in keys) else value
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
        return redact(text, keys).encode() if any(k in text for k in keys) else value
    if depth < 8 and isinstance(value, dict):
        return {k: _redacted(v, keys, depth + 1) for k, v in value.items()}
    if depth < 8 and isinstance(value, list | tuple):
        return type(value)(_redacted(v, keys, depth + 1) for v in value)
    return value


#: Local failures inside a provider handler (the answer arrived but could not be read): litellm
#: reports them as connection or server errors, but sending the request again would bill it again.
_UNREADABLE = (KeyError, IndexError, TypeError, AttributeError, ValueError)


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
        if math.isnan(seconds):
            return None
        return max(0.0, seconds / 1000 if name == "retry-after-ms" else seconds)
    except ValueError:
        pass
    try:
        from datetime import datetime, timezone

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None


def _answered_with_status(chain: Iterable[BaseException]) -> bool:
    """Whether the provider really answered with an error status (a response object in the chain)."""
    for x in chain:
        response = getattr(x, "response", None)
        if isinstance(response, httpx.Response) and response.status_code >= 400 and response.content:
            return True
    return False


def _code(chain: Iterable[BaseException]) -> str | None:
    """The provider's error code (``error.code`` of its body, e.g. ``resource_unavailable``),
    where an exception of the chain carries one (litellm's own ``code`` is the status, skipped)."""
    for x in chain:
        body = getattr(x, "body", None)
        if isinstance(body, Mapping):
            error = body.get("error")
            inner: Mapping[str, object] = error if isinstance(error, Mapping) else body
            if isinstance(inner.get("code"), str) and inner["code"]:
                return str(inner["code"])
        code = getattr(x, "code", None)
        if isinstance(code, str) and code and not code.isdigit():
            return code
    return None


def map_provider_error(exc: BaseException, *, model: str, secrets: Iterable[str] = ()) -> e.ProviderError:
    """The costroute error for a provider failure; the caller raises it ``from exc``. The whole
    exception chain is scrubbed of ``secrets`` (and of HTTP objects and frame locals) once what
    the error needs has been read from it."""
    secrets = list(secrets)
    chain = _chain(exc)
    try:
        return _classify(exc, chain, model, secrets)
    finally:
        _scrub(chain, secrets)


def _classify(exc: BaseException, chain: list[BaseException], model: str, secrets: list[str]) -> e.ProviderError:
    status = getattr(exc, "status_code", None)
    cls: type[e.ProviderError] | None = None
    for klass in type(exc).__mro__:
        cls = _BY_NAME.get(klass.__name__)
        if cls is not None:
            break
    transport = [x for x in chain if isinstance(x, httpx.TransportError | ConnectionError)]
    if cls in (e.ProviderConnectionError, e.ProviderServerError) and not _answered_with_status(chain):
        if transport and not any(isinstance(x, httpx.TimeoutException | TimeoutError) for x in transport):
            cls, status = e.ProviderConnectionError, None  # refused or reset: no status was ever sent
        elif not transport and any(isinstance(x, _UNREADABLE) for x in chain):
            message = redact(f"the provider's answer could not be read: {exc}", secrets)
            return e.ProviderResponseError(f"{model}: {message}", model=model)
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
    error = cls(
        f"{model}: {message}", model=model,
        status_code=status if isinstance(status, int) else None,
        retry_after=_retry_after(exc), body=None, code=_code(chain),
    )
    if cls is e.ProviderTimeoutError and any(isinstance(x, httpx.ConnectTimeout | httpx.PoolTimeout) for x in chain):
        error.maybe_billed = False  # never reached the provider
    return error
