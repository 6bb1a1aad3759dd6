"""Every exception costroute raises, in one tree.

    CostrouteError
    ├── ConfigError                  bad configuration (names the key path and the file)
    ├── RequestValidationError       a malformed request, caught before any money is spent
    ├── UnknownModelPriceError       a pinned model has no price in any source
    ├── NoAdequateModelError         no candidate can serve the request (reasons attached)
    ├── BudgetExceeded               a budget with ``on_exceed: block`` refused the request
    ├── BudgetStoreUnavailable       the budget store cannot be reached (fail closed)
    ├── LedgerUnavailable            the ledger cannot take a record: nothing is sent (fail closed)
    ├── CacheUnavailable             a cache backend failed (logged; the request goes on uncached)
    └── ProviderError                the provider failed; the original is kept as ``__cause__``
        ├── AuthenticationError      401/403: retrying will not help
        ├── BadRequestError          400/404/422: the provider rejected the request
        ├── ContextWindowExceededError
        ├── RateLimitError           429: retried, then the next candidate
        ├── ProviderTimeoutError     the call timed out: retried
        ├── ProviderConnectionError  the provider could not be reached: retried
        ├── ProviderServerError      5xx: retried
        └── ProviderResponseError    an answer arrived but could not be read: billed, never resent

Provider errors are translated exactly once, in ``costroute.providers``. Every error raised for a
request carries that request's ``request_id`` (``None`` when raised outside one, e.g. at load).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BatchError",
    "BudgetExceeded",
    "BudgetStoreUnavailable",
    "CacheUnavailable",
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
    "UnknownModelPriceError",
]


class CostrouteError(Exception):
    """The base of every error costroute raises. ``request_id`` is costroute's id of the request
    the error ended (set by the client; ``None`` outside a request)."""

    request_id: str | None = None


class BatchError(CostrouteError):
    """A batch could not be submitted, found or collected (the provider's batch API refused or
    failed, or the batch id is unknown). ``status_code`` is the provider's HTTP status, if any."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class ConfigError(CostrouteError, ValueError):
    """The configuration is invalid. ``problems`` lists each (location, message)."""

    def __init__(self, message: str, *, problems: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class RequestValidationError(CostrouteError, ValueError):
    """A request is malformed. ``location`` points at the offending part, e.g. ``messages[2].role``."""

    def __init__(self, message: str, *, location: str = "") -> None:
        super().__init__(f"{location}: {message}" if location else message)
        self.location = location


class UnknownModelPriceError(CostrouteError, LookupError):
    """No pricing source knows this model, so its cost could not be accounted for."""

    def __init__(self, model: str, *, suggestions: Sequence[str] = ()) -> None:
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f"no price is known for model {model!r}; add `price:` to it in the config or a price "
            f"file so its spend is not recorded as $0.{hint}"
        )
        self.model = model


class NoAdequateModelError(CostrouteError):
    """No candidate model can serve the request. ``rejections`` maps model -> reason."""

    def __init__(self, message: str, *, rejections: dict[str, str] | None = None) -> None:
        self.rejections = dict(rejections or {})
        detail = "; ".join(f"{m}: {why}" for m, why in self.rejections.items())
        super().__init__(f"{message} ({detail})" if detail else message)


class BudgetExceeded(CostrouteError):
    """A budget refused the request before any provider was called.

    ``action`` is the budget's ``on_exceed``: ``"downgrade"`` invites a retry with a cheaper model.
    """

    def __init__(
        self, message: str, *, budget: str = "", scope_key: str = "", action: str = "block"
    ) -> None:
        super().__init__(message)
        self.budget = budget
        self.scope_key = scope_key
        self.action = action


class BudgetStoreUnavailable(CostrouteError):
    """The budget store could not be reached; requests are refused rather than unaccounted."""


class LedgerUnavailable(CostrouteError):
    """The ledger cannot take records (database down, file locked, disk full). Raised before a
    provider is called, so nothing is spent that could not be recorded; an answer that arrived
    while the ledger failed is still delivered, its record kept in the local spool."""


class CacheUnavailable(CostrouteError):
    """A cache backend failed (file, database or server error); the original is ``__cause__``.

    ``ResponseCache`` logs it and carries on uncached: a cache outage never fails a request.
    """


class ProviderError(CostrouteError):
    """A provider call failed. The provider's own exception is ``__cause__``.

    ``maybe_billed`` says whether the provider may have done (and billed) the work although no
    answer was read (a timeout once the request went out); ``recorded_cost`` is what the failed
    attempt was booked at (``None`` until it is booked)."""

    retryable: bool = False
    maybe_billed: bool = False
    recorded_cost: Any = None

    def __init__(
        self,
        message: str,
        *,
        model: str = "",
        status_code: int | None = None,
        retry_after: float | None = None,
        body: Any = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.status_code = status_code
        self.retry_after = retry_after
        self.body = body
        self.code = code  # the provider's error code, e.g. ``resource_unavailable``


class AuthenticationError(ProviderError):
    """The provider refused the credentials (401/403)."""


class BadRequestError(ProviderError):
    """The provider rejected the request as invalid."""


class ContextWindowExceededError(BadRequestError):
    """The request did not fit the model's context window."""


class RateLimitError(ProviderError):
    """The provider rate-limited the request (429)."""

    retryable = True


class ProviderTimeoutError(ProviderError):
    """The provider call timed out. Unless it timed out connecting, the provider may have
    produced (and billed) an answer nobody read: the attempt is booked as estimated."""

    retryable = True
    maybe_billed = True


class ProviderConnectionError(ProviderError):
    """The provider could not be reached."""

    retryable = True


class ProviderServerError(ProviderError):
    """The provider failed with a 5xx status."""

    retryable = True


class ProviderResponseError(ProviderError):
    """The provider answered, but its answer could not be read. Not retried: the answer was
    billed, so sending the request again would pay twice. Recorded with an estimated cost."""

    maybe_billed = True
