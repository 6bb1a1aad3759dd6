"""The configuration schema: validated, frozen pydantic models. Unknown keys are errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer, field_validator, model_validator

from ..cache._config import CacheConfig, PolicyCacheConfig
from ..cascade._config import CascadeConfig
from ..spend._config import BudgetConfig, BudgetStoreConfig, LedgerConfig
from ..spend._redact import redact_url

__all__ = [
    "DEFAULT_TIERS",
    "CostrouteConfig",
    "ModelConfig",
    "ModelPrice",
    "ModelSupports",
    "PolicyConfig",
    "RetryConfig",
    "ServerConfig",
    "ServerKey",
    "SessionConfig",
    "ShadowConfig",
    "TierPrice",
]

#: Tier name -> the minimum model quality it demands.
DEFAULT_TIERS: dict[str, float] = {"economy": 0.0, "standard": 0.6, "premium": 0.8}

Quality = Annotated[float, Field(ge=0.0, le=1.0)]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=10)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class TierPrice(_Frozen):
    """The price of one service tier, in US dollars per million tokens."""

    input_per_mtok: Money
    output_per_mtok: Money
    cached_input_per_mtok: Money | None = None
    cache_write_per_mtok: Money | None = None
    cache_write_1h_per_mtok: Money | None = None


class ModelPrice(TierPrice):
    """A price override, in US dollars per million tokens: the default tier's, and optionally the
    ``flex``, ``batch`` and ``priority`` tiers' (a model has only the tiers its price names, unless
    the price restates the known list price; see :func:`costroute.pricing.restate`)."""

    flex: TierPrice | None = None
    batch: TierPrice | None = None
    priority: TierPrice | None = None
    effective_date: str | None = None


class ModelSupports(_Frozen):
    """What a model can do; ``None`` leaves it to the pricing registry's knowledge."""

    tools: bool | None = None
    vision: bool | None = None
    json_output: bool | None = Field(default=None, alias="json")
    streaming: bool | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ModelConfig(_Frozen):
    """One candidate model. ``name`` is a litellm model id such as ``openai/gpt-4o-mini``."""

    name: Annotated[str, Field(min_length=1)]
    quality: Quality | None = None
    api_base: str | None = Field(default=None, repr=False)  # a base URL may carry user:password
    api_key: SecretStr | None = None
    price: ModelPrice | None = None
    max_input_tokens: Annotated[int, Field(gt=0)] | None = None
    max_output_tokens: Annotated[int, Field(gt=0)] | None = None
    #: The most one image of unknown size can add to a prompt, for models with no published rule
    #: (reservations use it as the upper bound; see ``costroute.router._media``).
    max_image_tokens: Annotated[int, Field(gt=0)] | None = None
    supports: ModelSupports = ModelSupports()
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    extra_params: dict[str, Any] = Field(default_factory=dict)

    @field_serializer("api_base")
    def _dump_base_without_password(self, value: str | None) -> str | None:
        """``model_dump()`` and JSON dumps show ``https://user:***@host``, never the password."""
        return None if value is None else redact_url(value)

    @field_validator("extra_params")
    @classmethod
    def _no_secrets_in_extras(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if "key" in key.lower() or "secret" in key.lower() or key.lower() == "token":
                raise ValueError(f"put credentials in `api_key`, not in extra_params ({key!r})")
        return value


class RetryConfig(_Frozen):
    """costroute's own retries: the only retries, since litellm's and the SDKs' are switched off."""

    attempts_per_model: Annotated[int, Field(ge=1, le=10)] = 2
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 4
    backoff_s: Annotated[float, Field(ge=0, le=60)] = 0.5
    max_backoff_s: Annotated[float, Field(ge=0, le=600)] = 8.0
    max_retry_after_s: Annotated[float, Field(ge=0, le=600)] = 30.0


class ShadowConfig(_Frozen):
    """``shadow:`` — learn from live traffic: a ``rate`` share of requests is also sent, in the
    background, to ``reference``; a ``judge`` model (default: the reference) compares the two
    answers, position-swapped, and its label is kept as ``judge`` feedback on the request
    (application feedback overrides it). Shadow calls are tagged ``costroute: shadow``, count
    against budgets that cover them (global ones), and together with their judging spend at most
    ``max_usd_per_day``."""

    rate: Annotated[float, Field(ge=0.0, le=1.0)]
    reference: Annotated[str, Field(min_length=1)]
    max_usd_per_day: Annotated[Decimal, Field(gt=0)] = Decimal(5)
    judge: str | None = None
    rubric: str | None = None
    max_output_tokens: Annotated[int, Field(gt=0)] = 512


class SessionConfig(_Frozen):
    """``session:`` — routing within a session (requests tagged ``session``, or carrying OpenAI's
    ``prompt_cache_key``). ``sticky`` prices each candidate with what its provider still caches of
    the session's prompt and keeps the session's model unless moving is cheaper after losing that
    cache, or the required tier rises (``false``: each request is routed on its own). The tier
    never drops mid-session unless ``allow_tier_drop``."""

    sticky: bool = True
    allow_tier_drop: bool = False


class PolicyConfig(_Frozen):
    """How one policy routes.

    ``thresholds`` maps a tier to the lowest difficulty that demands it; the lowest tier serves
    everything below the first threshold. ``output_tokens_estimate`` prices the answer before it
    exists; ``max_output_tokens`` caps answers when the caller gives no ``max_tokens``.
    ``strategy: cascade`` answers through the ``cascade:`` section instead (see
    :class:`costroute.cascade.CascadeConfig`); the policy's classifier still scores difficulty.
    """

    baseline: str | None = None
    thresholds: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] | None = None
    classifier: str = "default"
    models: list[str] | None = None
    providers: list[str] | None = None
    fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    escalate: bool = True
    max_output_tokens: Annotated[int, Field(gt=0)] | None = 4096
    output_tokens_estimate: Annotated[int, Field(gt=0)] = 256
    retry: RetryConfig = RetryConfig()
    cache: PolicyCacheConfig | None = None
    #: Send requests at the flex service tier where a model offers it (batch prices, slower, may
    #: be refused under load); ``create(deferrable=True)`` asks for it per request.
    deferrable: bool = False
    #: On a flex refusal: ``default`` tries again at once at the default tier (within the
    #: attempt bounds); ``wait`` retries at flex after the usual backoff.
    on_flex_refusal: Literal["default", "wait"] = "default"
    strategy: Literal["route", "cascade"] = "route"
    cascade: CascadeConfig | None = None
    shadow: ShadowConfig | None = None
    session: SessionConfig = SessionConfig()
    #: ``auto``: on models whose provider caches only marked prefixes (Anthropic), mark the system
    #: prompt and tools with ``cache_control`` when they reach the model's minimum cacheable size,
    #: and price the cache write and the later reads. ``off``: send the request as given.
    prompt_cache: Literal["off", "auto"] = "off"

    @model_validator(mode="after")
    def _strategy_has_its_section(self) -> PolicyConfig:
        if self.strategy == "cascade" and self.cascade is None:
            raise ValueError("strategy 'cascade' needs a `cascade:` section (steps, final, accept)")
        if self.strategy == "route" and self.cascade is not None:
            raise ValueError("a `cascade:` section is only used with `strategy: cascade`")
        return self


class ServerKey(_Frozen):
    """A virtual key of ``costroute serve``: clients send ``Authorization: Bearer <key>``.

    Give the key itself (``key``, usually ``${VAR}``) or only its SHA-256 (``key_sha256``, hex).
    ``tags`` are added to every request made with it (they win over the request's own tags);
    ``policies`` limits the policies it may use (the first is its default when a request names
    none); ``name`` labels it in logs (never the key)."""

    key: SecretStr | None = None
    key_sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")] | None = None
    name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    policies: Annotated[list[str], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> ServerKey:
        if (self.key is None) == (self.key_sha256 is None):
            raise ValueError("give exactly one of `key` and `key_sha256`")
        if self.key is not None and len(self.key.get_secret_value()) < 8:
            raise ValueError("a key must be at least 8 characters long (is a ${VAR} unset?)")
        return self


class ServerConfig(_Frozen):
    """``costroute serve``: virtual keys and request limits. ``max_in_flight`` chat requests run at
    once in each worker (a stream holds its place until it ends); the others wait for a place, in
    arrival order, at most ``queue_timeout_s`` (then 503 ``overloaded``), before anything is planned
    or reserved."""

    keys: list[ServerKey] = Field(default_factory=list)
    max_body_bytes: Annotated[int, Field(gt=0, le=1 << 30)] = 4 * 1024 * 1024
    max_in_flight: Annotated[int, Field(gt=0, le=100_000)] = 256
    queue_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0


class CostrouteConfig(_Frozen):
    """The whole configuration file."""

    version: Literal[1] = 1
    models: list[ModelConfig] = Field(default_factory=list)
    tiers: dict[str, Quality] = Field(default_factory=lambda: dict(DEFAULT_TIERS))
    policies: dict[str, PolicyConfig] = Field(default_factory=lambda: {"default": PolicyConfig()})
    price_files: list[str] = Field(default_factory=list)
    pricing_plugins: bool = True
    ledger: LedgerConfig = LedgerConfig()
    budgets: list[BudgetConfig] = Field(default_factory=list)
    budget_store: BudgetStoreConfig = BudgetStoreConfig()
    cache: CacheConfig = CacheConfig()
    server: ServerConfig = ServerConfig()

    @field_validator("tiers")
    @classmethod
    def _tiers_not_empty(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("at least one tier is needed")
        return value

