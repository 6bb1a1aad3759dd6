"""Errors as OpenAI's SDKs expect them: ``{"error": {"message", "type", "code", "param"}}`` and the
status each SDK turns into its usual exception (400 ``BadRequestError``, 401 ``AuthenticationError``,
403 ``PermissionDeniedError``, 429 ``RateLimitError``, 5xx ``InternalServerError``).

Pure: an exception in, a status, a body and headers out. A message never carries a stack trace, an
upstream key or the prompt: provider failures are described by their kind, model and status only
(a provider's own message may echo the request), and anything unexpected by its type's name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .._errors import (
    BadRequestError,
    BudgetExceeded,
    BudgetStoreUnavailable,
    ContextWindowExceededError,
    CostrouteError,
    LedgerUnavailable,
    NoAdequateModelError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    RequestValidationError,
    UnknownModelPriceError,
)
from ..spend import BudgetConfig, period_bounds

__all__ = ["SOON_S", "ApiError", "Reply", "error_reply"]

#: A budget whose period resets within this many seconds answers with ``Retry-After``; a later
#: reset answers ``x-should-retry: false`` (the OpenAI SDKs then do not retry on their own).
SOON_S = 300


class ApiError(CostrouteError):
    """A refusal of the server's own (bad body, bad key, forbidden policy), already in OpenAI's terms."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param


@dataclass(frozen=True, slots=True)
class Reply:
    """An error answer: its status, JSON body and extra headers; ``label`` names it in metrics."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    label: str = "error"


def _body(message: str, type: str, code: str | None, param: str | None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type, "code": code, "param": param}}).encode()


def error_reply(exc: BaseException, budgets: Mapping[str, BudgetConfig] | None = None,
                now: datetime | None = None) -> Reply:
    """The answer for an exception raised while serving a request."""
    rid = getattr(exc, "request_id", None)
    headers: dict[str, str] = {"x-costroute-request-id": rid} if rid else {}
    if isinstance(exc, ApiError):
        return Reply(exc.status, _body(exc.message, exc.type, exc.code, exc.param), headers, exc.code or "invalid")
    if isinstance(exc, RequestValidationError):
        return Reply(400, _body(str(exc), "invalid_request_error", "invalid_request", exc.location or None),
                     headers, "invalid")
    if isinstance(exc, NoAdequateModelError):
        return Reply(400, _body(str(exc), "invalid_request_error", "no_adequate_model", None), headers,
                     "no_adequate_model")
    if isinstance(exc, UnknownModelPriceError):
        return Reply(400, _body(str(exc), "invalid_request_error", "model_not_found", "model"), headers, "invalid")
    if isinstance(exc, BudgetExceeded):
        wait = _reset_in(exc.budget, budgets or {}, now or datetime.now(timezone.utc))
        if wait is not None and wait <= SOON_S:
            headers["retry-after"] = str(max(1, math.ceil(wait)))
        else:
            headers["x-should-retry"] = "false"
        return Reply(429, _body(str(exc), "insufficient_quota", "budget_exceeded", None), headers, "budget_exceeded")
    if isinstance(exc, LedgerUnavailable | BudgetStoreUnavailable):
        what = "ledger" if isinstance(exc, LedgerUnavailable) else "budget store"
        headers["retry-after"] = "1"
        return Reply(503, _body(f"the {what} is unavailable; nothing was sent", "service_unavailable",
                                f"{what.replace(' ', '_')}_unavailable", None), headers, "unavailable")
    if isinstance(exc, ProviderError):
        return _provider(exc, headers)
    if isinstance(exc, CostrouteError):
        return Reply(500, _body(f"costroute failed ({type(exc).__name__})", "server_error", "internal_error", None),
                     headers, "internal")
    return Reply(500, _body(f"internal error ({type(exc).__name__})", "server_error", "internal_error", None),
                 headers, "internal")


def _provider(exc: ProviderError, headers: dict[str, str]) -> Reply:
    model = f" from {exc.model}" if exc.model else ""
    status = f" (status {exc.status_code})" if exc.status_code else ""
    if isinstance(exc, RateLimitError):
        if exc.retry_after:
            headers["retry-after"] = str(max(1, math.ceil(exc.retry_after)))
        return Reply(429, _body(f"the provider rate-limited the request{model}{status}", "rate_limit_error",
                                "rate_limit_exceeded", None), headers, "rate_limited")
    if isinstance(exc, ProviderTimeoutError):
        return Reply(504, _body(f"the provider timed out{model}", "upstream_error", "upstream_timeout", None),
                     headers, "upstream_timeout")
    if isinstance(exc, ContextWindowExceededError):
        return Reply(400, _body(f"the request does not fit the context window{model}", "invalid_request_error",
                                "context_length_exceeded", "messages"), headers, "invalid")
    if isinstance(exc, BadRequestError):
        return Reply(400, _body(f"the provider rejected the request{model}{status}", "invalid_request_error",
                                "upstream_bad_request", None), headers, "invalid")
    return Reply(502, _body(f"the provider failed{model}{status} ({type(exc).__name__})", "upstream_error",
                            "upstream_error", None), headers, "upstream_error")


def _reset_in(name: str, budgets: Mapping[str, BudgetConfig], now: datetime) -> float | None:
    """Seconds until the period of budget ``name`` resets (``None``: never, or unknown)."""
    budget = budgets.get(name)
    if budget is None:
        return None
    _, end = period_bounds(budget.period, now, budget.timezone)
    return None if end is None else (end - now).total_seconds()
