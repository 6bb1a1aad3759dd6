"""Provider quirks the rest of costroute needs, as plain data: one :class:`ProviderRules` per
provider (wire format, usage convention, prompt caching, flex, priority and batch service).

Pure data, no litellm import. Prices are not here: the price sheets (``costroute.pricing``) are the
authority on what each tier costs; the discounts below are what providers document, kept for
planning and for the few prices litellm's map leaves out (see :class:`TierPriceRule`).

Sources are cited per entry: provider documentation as read in 2026 (pages and dates drift: the
snapshot build and ``tests/providers`` cross-check the table against litellm's price map), and the
litellm 1.110 source files that implement the same behaviour. Facts marked *unverified* were not
found in any source read; code relying on them should degrade gracefully.

    rules = provider_rules("vertex_ai-anthropic_models")
    rules.cache.min_prefix_tokens("claude-sonnet-4-5@20250929")   # 1024
    rules.batch.max_requests if rules.batch else None
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

__all__ = [
    "PROVIDER_RULES",
    "BatchRules",
    "CacheRules",
    "FlexRules",
    "ProviderRules",
    "TierPriceRule",
    "WireFormat",
    "provider_rules",
]

WireFormat = Literal["openai-chat", "anthropic-messages", "gemini-generate-content", "bedrock-converse"]
CacheMode = Literal["automatic", "cache_control", "none"]

_HALF = Decimal("0.5")
_DAY_S = 24 * 3600
_MB = 1000 * 1000  # providers say "MB"; the decimal reading is the smaller, safe one


@dataclass(frozen=True, slots=True)
class TierPriceRule:
    """A service tier's documented price as a fraction of the default prices: input and output
    (long-context tiers included) at ``fraction``; cache reads and writes at ``cache_fraction``
    (``None``: not documented, so never derived). The snapshot build uses it only to fill in a
    price litellm's map leaves out, and only for a model whose own tier prices match ``fraction``."""

    fraction: Decimal
    cache_fraction: Decimal | None
    source: str


@dataclass(frozen=True, slots=True)
class CacheRules:
    """Provider prompt caching.

    ``mode``: ``automatic`` (the provider caches prefixes by itself) or ``cache_control`` (the
    request marks the prefix). ``min_tokens`` maps a model-family substring to the smallest
    cacheable prefix, first match wins, ``default_min_tokens`` otherwise. ``lifetimes_s``: cache
    lifetimes offered (the first is the default; ``None`` where the provider only says "minutes"
    or "hours"). ``write_multipliers``: lifetime -> write price as a multiple of the input price;
    ``read_fraction``: cached-read price as a fraction of the input price, where documented as a
    flat rule (else the price sheet decides)."""

    mode: CacheMode
    default_min_tokens: int | None
    min_tokens: tuple[tuple[str, int], ...] = ()
    lifetimes_s: tuple[int, ...] | None = None
    write_multipliers: Mapping[int, Decimal] = field(default_factory=dict)
    read_fraction: Decimal | None = None
    max_breakpoints: int | None = None
    source: str = ""

    def min_prefix_tokens(self, model: str) -> int | None:
        """The smallest prefix ``model`` caches, or ``None`` if unknown."""
        name = model.lower()
        return next((n for family, n in self.min_tokens if family in name), self.default_min_tokens)


@dataclass(frozen=True, slots=True)
class FlexRules:
    """A synchronous, slower and cheaper tier that may refuse work under load.

    ``parameter`` is what costroute passes (through litellm) to ask for it. A refusal is an HTTP
    ``refusal_status`` whose error ``code`` is one of ``refusal_codes`` (any code, if empty);
    ``refusal_billed`` says whether the refused attempt costs anything. ``served_tier`` names
    where the response says which tier actually served it."""

    parameter: Mapping[str, object]
    refusal_status: int | None
    refusal_codes: tuple[str, ...]
    refusal_billed: bool
    served_tier: str
    timeout_s: float | None = None
    price: TierPriceRule | None = None
    note: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class BatchRules:
    """An asynchronous batch API. ``None`` limits are account quotas or undocumented."""

    api: str
    max_requests: int | None
    max_bytes: int | None
    completion_window_s: int
    max_window_s: int | None = None
    results_kept_s: int | None = None
    price: TierPriceRule | None = None
    note: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class ProviderRules:
    """What costroute needs to know about one provider. ``known`` is false for the generic rules
    :func:`provider_rules` answers for a provider not in the table (no cache, flex or batch)."""

    provider: str
    wire_format: WireFormat
    usage_includes_cache_reads: bool
    cache: CacheRules | None = None
    flex: FlexRules | None = None
    priority_parameter: Mapping[str, object] | None = None
    batch: BatchRules | None = None
    known: bool = True
    note: str = ""


# ---------------------------------------------------------------------------------------------
# Shared pieces

# https://docs.claude.com/en/docs/build-with-claude/prompt-caching (pricing, minimum cacheable
# length, 1-hour duration); orq.ai's mirror of the minimum table dated 2026. Reads 0.1x input,
# 5-minute writes 1.25x, 1-hour writes 2x (litellm's map agrees: cache_creation_input_token_cost_
# above_1hr is 2x input on all 232 Claude entries). A model not in the table is given the highest
# documented minimum: a mark on a shorter prefix is silently not cached, so assuming less would
# price cache hits that never happen.
_CLAUDE_MIN_TOKENS = (
    ("opus-4-6", 4096),
    ("opus-4-5", 4096),
    ("haiku-4-5", 4096),
    ("sonnet-4-6", 2048),
    ("sonnet-4-5", 1024),
    ("opus-4-1", 1024),
    ("opus-4", 1024),
    ("sonnet-4", 1024),
    ("3-7-sonnet", 1024),
    ("3-5-haiku", 2048),
    ("3-haiku", 2048),
)
_CLAUDE_WRITES = MappingProxyType({300: Decimal("1.25"), 3600: Decimal("2")})
_CLAUDE_CACHE_SOURCE = "https://docs.claude.com/en/docs/build-with-claude/prompt-caching"

_OPENAI_CACHE = CacheRules(
    # Automatic for prompts of 1,024 tokens or more, hits in 128-token steps; entries live 5-10
    # minutes idle (up to an hour off-peak), or 24 h with prompt_cache_retention="24h" on the
    # models that offer it. The read discount depends on the model (50-90 %): see the sheet.
    mode="automatic",
    default_min_tokens=1024,
    lifetimes_s=None,
    source="https://developers.openai.com/api/docs/guides/prompt-caching",
)

_OPENAI_FLEX_SOURCE = "https://developers.openai.com/api/docs/guides/flex-processing"
_OPENAI_BATCH_SOURCE = "https://developers.openai.com/api/docs/guides/batch"


def _claude_cache(note_source: str) -> CacheRules:
    return CacheRules(
        mode="cache_control",
        default_min_tokens=4096,
        min_tokens=_CLAUDE_MIN_TOKENS,
        lifetimes_s=(300, 3600),
        write_multipliers=_CLAUDE_WRITES,
        read_fraction=Decimal("0.1"),
        max_breakpoints=4,
        source=note_source,
    )


# ---------------------------------------------------------------------------------------------
# The table

_RULES: tuple[ProviderRules, ...] = (
    ProviderRules(
        provider="openai",
        wire_format="openai-chat",
        usage_includes_cache_reads=True,  # prompt_tokens_details.cached_tokens is part of prompt_tokens
        cache=_OPENAI_CACHE,
        flex=FlexRules(
            # Flex is on the models the pricing page lists (o3, o4-mini, the gpt-5 family): a
            # model has flex where its sheet has a flex price. "429 Resource Unavailable" (error
            # code resource_unavailable, not rate_limit_exceeded) is not charged; retry later or
            # with service_tier "auto" (the project default). The SDK's 10-minute default timeout
            # is too short for flex: the guide raises it to 15 minutes.
            parameter=MappingProxyType({"service_tier": "flex"}),
            refusal_status=429,
            refusal_codes=("resource_unavailable",),
            refusal_billed=False,
            served_tier="response.service_tier",
            timeout_s=900.0,
            price=TierPriceRule(_HALF, None, _OPENAI_FLEX_SOURCE + " (tokens priced at Batch API rates)"),
            source=_OPENAI_FLEX_SOURCE,
        ),
        # Priority may be downgraded to default (ramp limits); response.service_tier tells, and
        # such a request is billed at standard rates.
        priority_parameter=MappingProxyType({"service_tier": "priority"}),
        batch=BatchRules(
            # Files API (purpose "batch", JSONL, one model per file) + POST /v1/batches; only a
            # 24 h window. An expired batch cancels what did not run; what ran is billed.
            api="openai-batches",
            max_requests=50_000,
            max_bytes=200 * _MB,
            completion_window_s=_DAY_S,
            results_kept_s=30 * _DAY_S,  # output_expires_after: 1 h to 30 days
            price=TierPriceRule(_HALF, None, _OPENAI_BATCH_SOURCE + " (50 % off inputs and outputs)"),
            source="https://developers.openai.com/api/docs/api-reference/batch/create",
        ),
    ),
    ProviderRules(
        provider="azure",
        wire_format="openai-chat",
        usage_includes_cache_reads=True,
        cache=CacheRules(
            mode="automatic",
            default_min_tokens=1024,
            source="https://learn.microsoft.com/azure/ai-foundry/openai/how-to/prompt-caching (as OpenAI)",
        ),
        flex=FlexRules(
            # Preview, Global Standard deployments of supported models only; a model without flex
            # answers 400 invalid_request_error and does not fall back. The capacity refusal is
            # the OpenAI one (unverified for Azure beyond "transient resource-unavailable").
            parameter=MappingProxyType({"service_tier": "flex"}),
            refusal_status=429,
            refusal_codes=("resource_unavailable",),
            refusal_billed=False,
            served_tier="response.service_tier",
            timeout_s=900.0,
            price=TierPriceRule(_HALF, None, "https://learn.microsoft.com/azure/foundry/openai/how-to/flex-processing"),
            source="https://learn.microsoft.com/azure/foundry/openai/how-to/flex-processing",
        ),
        priority_parameter=MappingProxyType({"service_tier": "priority"}),
        batch=BatchRules(
            api="openai-batches",  # /openai/v1/batches on a Global Batch deployment
            max_requests=50_000,
            max_bytes=200 * _MB,
            completion_window_s=_DAY_S,
            price=TierPriceRule(_HALF, None, "https://learn.microsoft.com/azure/ai-foundry/openai/how-to/batch"),
            source="https://learn.microsoft.com/azure/foundry/reference/rest/batches-create-batch",
        ),
    ),
    ProviderRules(
        provider="anthropic",
        wire_format="anthropic-messages",
        usage_includes_cache_reads=False,  # input_tokens excludes cache reads and writes
        cache=_claude_cache(_CLAUDE_CACHE_SOURCE),
        # No flex tier (no slow synchronous tier); Priority Tier is committed capacity, not a
        # per-request price, so it is not a service tier here.
        batch=BatchRules(
            # Up to 100,000 requests or 256 MB; ends within 24 h (unfinished requests expire);
            # results downloadable for 29 days. 50 % off everything, cache multipliers stacking.
            api="anthropic-message-batches",
            max_requests=100_000,
            max_bytes=256 * _MB,
            completion_window_s=_DAY_S,
            results_kept_s=29 * _DAY_S,
            price=TierPriceRule(
                _HALF, _HALF, "https://docs.claude.com/en/docs/build-with-claude/batch-processing#pricing"
            ),
            note="max_tokens must be at least 1 (no cache pre-warming inside a batch)",
            source="https://docs.claude.com/en/docs/build-with-claude/batch-processing",
        ),
    ),
    ProviderRules(
        provider="gemini",
        wire_format="gemini-generate-content",
        usage_includes_cache_reads=True,  # promptTokenCount includes cachedContentTokenCount
        cache=CacheRules(
            # Implicit caching on Gemini 2.5 and newer; explicit cachedContents (default TTL 1 h,
            # storage billed per hour) is not used by costroute.
            mode="automatic",
            default_min_tokens=4096,
            min_tokens=(("gemini-2.5", 2048),),
            source="https://ai.google.dev/gemini-api/docs/caching",
        ),
        flex=FlexRules(
            # service_tier "flex" in the request body (litellm: VertexGeminiConfig._map_service_tier_
            # param). Best effort ("sheddable"), 1-15 min target latency, 50 % off. The refusal
            # signal is unverified: the docs only say "Flex request failed"; Google's overload
            # errors are 429 RESOURCE_EXHAUSTED and 503 UNAVAILABLE.
            parameter=MappingProxyType({"service_tier": "flex"}),
            refusal_status=None,
            refusal_codes=("RESOURCE_EXHAUSTED", "UNAVAILABLE"),
            refusal_billed=False,
            served_tier="x-gemini-service-tier header; usageMetadata.trafficType (litellm cost_calculator.py)",
            timeout_s=900.0,
            price=TierPriceRule(_HALF, None, "https://ai.google.dev/gemini-api/docs/flex-inference"),
            source="https://ai.google.dev/gemini-api/docs/flex-inference",
        ),
        priority_parameter=MappingProxyType({"service_tier": "priority"}),  # 75-100 % dearer
        batch=BatchRules(
            # Inline requests up to 20 MB in all, or a JSONL file through the File API (2 GB);
            # target turnaround 24 h.
            api="gemini-batch",
            max_requests=None,
            max_bytes=2000 * _MB,
            completion_window_s=_DAY_S,
            price=TierPriceRule(_HALF, None, "https://ai.google.dev/gemini-api/docs/batch-api"),
            note="inline batches: 20 MB in all",
            source="https://ai.google.dev/gemini-api/docs/batch-api",
        ),
    ),
    ProviderRules(
        provider="vertex_ai",
        wire_format="gemini-generate-content",
        usage_includes_cache_reads=True,
        cache=CacheRules(
            mode="automatic",  # implicit caching, 90 % off cached tokens
            default_min_tokens=4096,
            min_tokens=(("gemini-2.5", 2048),),
            read_fraction=Decimal("0.1"),
            source="https://cloud.google.com/vertex-ai/generative-ai/docs/context-cache/context-cache-overview",
        ),
        flex=FlexRules(
            # Flex PayGo; Vertex reports it as trafficType ON_DEMAND_FLEX (litellm
            # cost_calculator._GEMINI_TRAFFIC_TYPE_TO_SERVICE_TIER). Refusal signal unverified.
            parameter=MappingProxyType({"service_tier": "flex"}),
            refusal_status=None,
            refusal_codes=("RESOURCE_EXHAUSTED", "UNAVAILABLE"),
            refusal_billed=False,
            served_tier="usageMetadata.trafficType",
            price=TierPriceRule(_HALF, None, "https://cloud.google.com/vertex-ai/generative-ai/pricing"),
            source="litellm cost_calculator.py (_map_traffic_type_to_service_tier)",
        ),
        priority_parameter=MappingProxyType({"service_tier": "priority"}),  # ON_DEMAND_PRIORITY
        batch=BatchRules(
            api="vertex-batch-prediction",  # BigQuery table or Cloud Storage JSONL
            max_requests=None,
            max_bytes=None,
            completion_window_s=_DAY_S,
            price=TierPriceRule(_HALF, None, "https://cloud.google.com/vertex-ai/generative-ai/pricing"),
            source="https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/batch-prediction-gemini",
        ),
    ),
    ProviderRules(
        provider="vertex_ai-anthropic_models",
        wire_format="anthropic-messages",
        usage_includes_cache_reads=False,
        cache=_claude_cache(_CLAUDE_CACHE_SOURCE),
        batch=BatchRules(
            api="vertex-batch-prediction",
            max_requests=None,
            max_bytes=None,
            completion_window_s=_DAY_S,
            price=TierPriceRule(_HALF, None, "https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/batch"),
            source="https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/batch",
        ),
    ),
    ProviderRules(
        provider="bedrock",
        wire_format="bedrock-converse",
        usage_includes_cache_reads=False,  # inputTokens excludes cacheRead/WriteInputTokens
        # cachePoint blocks mark prefixes; Claude models follow Anthropic's minimums and offer
        # 5-minute and 1-hour lifetimes (cacheDetails ttl, litellm converse_transformation.py).
        # These are Claude's rules: other families on Bedrock (Nova, Llama, ...) differ.
        cache=_claude_cache("https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html"),
        flex=FlexRules(
            # Converse serviceTier {"type": "flex" | "priority"} (litellm maps service_tier). The
            # refusal signal is unverified: Bedrock throttles with ThrottlingException (429).
            parameter=MappingProxyType({"service_tier": "flex"}),
            refusal_status=429,
            refusal_codes=(),
            refusal_billed=False,
            served_tier="response serviceTier.type",
            note="refusal signal unverified",
            source="litellm llms/bedrock/chat/converse_transformation.py (_map_service_tier_param)",
        ),
        priority_parameter=MappingProxyType({"service_tier": "priority"}),
        batch=BatchRules(
            # CreateModelInvocationJob over S3 JSONL; records per job and file sizes are account
            # quotas; timeoutDurationInHours 24-168. No tool calling in Converse-type jobs.
            api="bedrock-model-invocation-job",
            max_requests=None,
            max_bytes=None,
            completion_window_s=_DAY_S,
            max_window_s=7 * _DAY_S,
            price=TierPriceRule(_HALF, None, "https://aws.amazon.com/bedrock/pricing/"),
            source="https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference.html",
        ),
    ),
    ProviderRules(
        provider="groq",
        wire_format="openai-chat",
        usage_includes_cache_reads=True,
        cache=CacheRules(mode="automatic", default_min_tokens=None, source="https://console.groq.com/docs/prompt-caching"),
        flex=FlexRules(
            # Same price as on-demand, 10x rate limits; at capacity it fails fast with 498
            # capacity_exceeded. Worth it for throughput, not for money.
            parameter=MappingProxyType({"service_tier": "flex"}),
            refusal_status=498,
            refusal_codes=("capacity_exceeded",),
            refusal_billed=False,
            served_tier="response.service_tier",
            price=TierPriceRule(Decimal(1), Decimal(1), "https://console.groq.com/docs/flex-processing"),
            source="https://console.groq.com/docs/flex-processing",
        ),
        batch=BatchRules(
            api="openai-batches",  # OpenAI-compatible Files + Batches; window 24 h to 7 days
            max_requests=50_000,
            max_bytes=200 * _MB,
            completion_window_s=_DAY_S,
            max_window_s=7 * _DAY_S,
            price=TierPriceRule(_HALF, None, "https://console.groq.com/docs/batch"),
            source="https://console.groq.com/docs/batch",
        ),
    ),
    ProviderRules(
        provider="deepseek",
        wire_format="openai-chat",
        usage_includes_cache_reads=True,  # prompt_tokens = prompt_cache_hit_tokens + prompt_cache_miss_tokens
        cache=CacheRules(
            # Context caching on disk, on by default, in 64-token units; entries kept hours to days.
            mode="automatic",
            default_min_tokens=64,
            source="https://api-docs.deepseek.com/guides/kv_cache",
        ),
        note="no batch API; litellm's map may carry off-peak prices",
    ),
    ProviderRules(
        provider="mistral",
        wire_format="openai-chat",
        usage_includes_cache_reads=True,
        batch=BatchRules(
            api="mistral-batch",
            max_requests=None,
            max_bytes=None,
            completion_window_s=_DAY_S,
            price=TierPriceRule(_HALF, None, "https://docs.mistral.ai/capabilities/batch/"),
            source="https://docs.mistral.ai/capabilities/batch/",
        ),
    ),
    ProviderRules(
        provider="together_ai",
        wire_format="openai-chat",
        usage_includes_cache_reads=True,
        batch=BatchRules(
            api="together-batch",  # OpenAI-like Files + Batches, select models
            max_requests=None,
            max_bytes=None,
            completion_window_s=_DAY_S,
            price=TierPriceRule(_HALF, None, "https://docs.together.ai/docs/batch-inference"),
            note="limits and the model list change; not verified",
            source="https://docs.together.ai/docs/batch-inference",
        ),
    ),
    ProviderRules(
        provider="xai",
        wire_format="openai-chat",
        usage_includes_cache_reads=True,
        cache=CacheRules(mode="automatic", default_min_tokens=None),  # cached_tokens in usage; rules unverified
        batch=BatchRules(
            # OpenAI-compatible /v1/files and /v1/batches on some models, best effort within 24 h;
            # the discount varies by model (20-50 %): the sheet's batch price decides.
            api="openai-batches",
            max_requests=None,
            max_bytes=None,
            completion_window_s=_DAY_S,
            source="https://docs.litellm.ai/docs/providers/xai_batches",
        ),
    ),
)

#: litellm provider names (and model-name prefixes) that share another entry's rules.
_ALIASES = MappingProxyType(
    {
        "bedrock_converse": "bedrock",
        "bedrock_mantle": "bedrock",
        "text-completion-openai": "openai",
        "vertex_ai-language-models": "vertex_ai",
        "vertex_ai-vision-models": "vertex_ai",
        "google": "gemini",
    }
)

PROVIDER_RULES: Mapping[str, ProviderRules] = MappingProxyType({r.provider: r for r in _RULES})


def provider_rules(provider: str) -> ProviderRules:
    """The rules of ``provider``, a litellm provider name (``vertex_ai-language-models``) or a
    model-name prefix (``vertex_ai``), case-insensitively. A provider not in the table gets
    generic rules (OpenAI wire format, inclusive usage, no cache, flex or batch; ``known=False``)."""
    name = provider.strip().lower()
    found = PROVIDER_RULES.get(name) or PROVIDER_RULES.get(_ALIASES.get(name, ""))
    if found is None and name.startswith("vertex_ai-"):
        found = PROVIDER_RULES["vertex_ai"] if name.endswith("language-models") else None
    if found is not None:
        return found
    return ProviderRules(provider=name, wire_format="openai-chat", usage_includes_cache_reads=True, known=False)
