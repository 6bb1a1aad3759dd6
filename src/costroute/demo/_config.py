"""The demo's model pool: six real models at their real list prices.

Against a loopback fake (``base_url`` given) every model must be reachable through litellm's
OpenAI provider, so the non-OpenAI models become OpenAI-compatible stand-ins (``openai/<name>``)
priced with ``price:`` at the list price the pricing registry knows for the real model. Without
``base_url`` (``costroute route``, which calls nothing) the real model names are used as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..policies import known_quality
from ..pricing import PriceRegistry

__all__ = ["BASELINE", "DEMO_KEY", "DEMO_MODELS", "DemoModel", "demo_config"]

#: The placeholder key sent to the fake server. It is not a secret, but the demo never prints it.
DEMO_KEY = "sk-costroute-demo-0000000000000000"


@dataclass(frozen=True, slots=True)
class DemoModel:
    """One model of the demo pool. ``fallback`` prices (input, output per Mtok) apply only if the
    registry no longer knows ``real``."""

    real: str
    fallback: tuple[str, str]

    @property
    def bare(self) -> str:
        """The name without its provider (and organisation) prefix: ``gpt-4o``."""
        return self.real.rsplit("/", 1)[-1]

    @property
    def openai_compatible(self) -> bool:
        return self.real.startswith("openai/")

    def name(self, *, stand_in: bool) -> str:
        if not stand_in or self.openai_compatible:
            return self.real
        return "openai/" + self.bare.lower().removeprefix("meta-").removesuffix("-turbo")


#: Cheapest first. Quality comes from costroute's bundled table.
DEMO_MODELS: tuple[DemoModel, ...] = (
    DemoModel("deepinfra/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", ("0.02", "0.04")),
    DemoModel("openai/gpt-4o-mini", ("0.15", "0.60")),
    DemoModel("openai/gpt-4.1-mini", ("0.40", "1.60")),
    DemoModel("gemini/gemini-2.5-flash", ("0.30", "2.50")),
    DemoModel("openai/gpt-4o", ("2.50", "10.00")),
    DemoModel("anthropic/claude-sonnet-4-5", ("3.00", "15.00")),
)
#: What every request would have gone to without routing.
BASELINE = "openai/gpt-4o"


def _quality(model: DemoModel) -> float:
    quality = known_quality(model.name(stand_in=True))
    if quality is None:  # pragma: no cover - the bundled table knows every demo model
        raise LookupError(f"no bundled quality for {model.real}")
    return quality


def _price(model: DemoModel, registry: PriceRegistry) -> dict[str, Any]:
    sheet = registry.find(model.real)
    if sheet is None:
        return {"input_per_mtok": model.fallback[0], "output_per_mtok": model.fallback[1]}
    price: dict[str, Any] = {"input_per_mtok": str(sheet.input_per_mtok),
                             "output_per_mtok": str(sheet.output_per_mtok)}
    if sheet.cached_input_per_mtok is not None:
        price["cached_input_per_mtok"] = str(sheet.cached_input_per_mtok)
    if sheet.effective_date:
        price["effective_date"] = sheet.effective_date
    return price


def demo_config(base_url: str | None = None, *, registry: PriceRegistry | None = None) -> dict[str, Any]:
    """A costroute configuration over :data:`DEMO_MODELS` with :data:`BASELINE` as the baseline.

    With ``base_url`` every model points at it (with the placeholder :data:`DEMO_KEY`) and the
    non-OpenAI models are OpenAI-compatible stand-ins priced like the real ones.
    """
    stand_in = base_url is not None
    registry = registry or PriceRegistry.default(plugins=False)
    models: list[dict[str, Any]] = []
    for model in DEMO_MODELS:
        spec: dict[str, Any] = {"name": model.name(stand_in=stand_in), "quality": _quality(model)}
        if base_url is not None:
            spec.update(api_base=base_url, api_key=DEMO_KEY)
        if (stand_in and not model.openai_compatible) or registry.find(model.real) is None:
            spec["price"] = _price(model, registry)
        models.append(spec)
    return {
        "models": models,
        "policies": {"default": {"baseline": BASELINE}},
        "ledger": {"backend": "memory"},
    }

