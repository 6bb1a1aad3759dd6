"""The demo's configurations.

* :func:`replay_config`: the two models whose answers the replay sample recorded, under their real
  litellm ids and list prices, pointed at a loopback fake, with one policy per :data:`SETTINGS`.
* :func:`demo_config`: six current models under their real names, used by ``costroute route`` when
  it has no configuration (it calls nothing, so no base URL is needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..policies import DEFAULT_TIERS, known_quality
from ..pricing import PriceRegistry
from ..router._select import default_thresholds

if TYPE_CHECKING:
    from ._sample import Sample

__all__ = ["BASELINE", "DEMO_KEY", "DEMO_MODELS", "SETTINGS", "DemoModel", "Setting", "demo_config", "replay_config"]

#: The placeholder key sent to the fake server. It is not a secret, but the demo never prints it.
DEMO_KEY = "sk-costroute-demo-0000000000000000"


@dataclass(frozen=True, slots=True)
class Setting:
    """One policy the replay runs: the difficulty from which a request needs the premium tier
    (``None``: costroute's default thresholds, as a policy without ``thresholds:`` gets).

    Every setting keeps costroute's default tiers (economy 0, standard 0.6, premium 0.8 quality)
    and their default standard threshold; only the premium threshold moves."""

    name: str
    premium_at: float | None
    about: str

    def thresholds(self) -> dict[str, float]:
        """The policy's thresholds, resolved."""
        defaults = default_thresholds(DEFAULT_TIERS)
        if self.premium_at is None:
            return defaults
        return {**defaults, "standard": min(defaults["standard"], self.premium_at), "premium": self.premium_at}

    def policy(self, baseline: str, classifier: str = "default") -> dict[str, Any]:
        policy: dict[str, Any] = {"baseline": baseline, "classifier": classifier}
        if self.premium_at is not None:
            policy["thresholds"] = self.thresholds()
        return policy


#: A cheaper setting, costroute's default one, a safer one.
SETTINGS: tuple[Setting, ...] = (
    Setting("cheaper", 0.8, "premium only from difficulty 0.8"),
    Setting("default", None, "costroute's default thresholds"),
    Setting("safer", 0.5, "premium from difficulty 0.5"),
)


def replay_config(sample: Sample, base_url: str, *, settings: tuple[Setting, ...] = SETTINGS,
                  classifier: str = "default", registry: PriceRegistry | None = None) -> dict[str, Any]:
    """A configuration over the sample's models, each at ``base_url`` with :data:`DEMO_KEY`, with
    one policy per setting (all scoring difficulty with ``classifier``).

    Each model's quality is its recorded accuracy over the whole source file; prices are the
    registry's list prices (the sample's own, should the registry no longer know a model). The
    cache is off: every request is answered and billed, as the recording was."""
    registry = registry or PriceRegistry.default(plugins=False)
    models = []
    for model in sample.models:
        spec: dict[str, Any] = {"name": model.name, "quality": model.quality, "api_base": base_url,
                                "api_key": DEMO_KEY}
        if registry.find(model.name) is None:
            spec["price"] = dict(model.price)
        models.append(spec)
    return {
        "models": models,
        "policies": {s.name: s.policy(sample.baseline, classifier) for s in settings},
        "cache": {"enabled": False},
        "ledger": {"backend": "memory"},  # the demo passes its own ledger
    }


@dataclass(frozen=True, slots=True)
class DemoModel:
    """One model of ``costroute route``'s built-in pool. ``fallback`` prices (input, output per
    Mtok) apply only if the registry no longer knows ``real``."""

    real: str
    fallback: tuple[str, str]

    @property
    def quality(self) -> float:
        """The bundled table's quality, looked up by the model's plain name (``Meta-Llama-3.1-8B-Instruct-Turbo``
        is DeepInfra's ``llama-3.1-8b-instruct``)."""
        bare = self.real.rsplit("/", 1)[-1].lower().removeprefix("meta-").removesuffix("-turbo")
        quality = known_quality(bare)
        if quality is None:  # pragma: no cover - the bundled table knows every demo model
            raise LookupError(f"no bundled quality for {self.real}")
        return quality


#: Cheapest first. Quality comes from costroute's bundled table.
DEMO_MODELS: tuple[DemoModel, ...] = (
    DemoModel("deepinfra/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", ("0.02", "0.04")),
    DemoModel("openai/gpt-4o-mini", ("0.15", "0.60")),
    DemoModel("openai/gpt-4.1-mini", ("0.40", "1.60")),
    DemoModel("gemini/gemini-2.5-flash", ("0.30", "2.50")),
    DemoModel("openai/gpt-4o", ("2.50", "10.00")),
    DemoModel("anthropic/claude-sonnet-4-5", ("3.00", "15.00")),
)
#: The built-in pool's baseline.
BASELINE = "openai/gpt-4o"


def demo_config(*, registry: PriceRegistry | None = None) -> dict[str, Any]:
    """``costroute route``'s built-in pool: :data:`DEMO_MODELS` with :data:`BASELINE`."""
    registry = registry or PriceRegistry.default(plugins=False)
    models: list[dict[str, Any]] = []
    for model in DEMO_MODELS:
        spec: dict[str, Any] = {"name": model.real, "quality": model.quality}
        if registry.find(model.real) is None:
            spec["price"] = {"input_per_mtok": model.fallback[0], "output_per_mtok": model.fallback[1]}
        models.append(spec)
    return {"models": models, "policies": {"default": {"baseline": BASELINE}}, "ledger": {"backend": "memory"}}
