"""Configuration: the schema of policies, tiers and models, and how it is loaded and checked."""

from ._loader import ConfigSource, check_references, load_config
from ._quality import known_quality
from ._schema import (
    DEFAULT_TIERS,
    CostrouteConfig,
    ModelConfig,
    ModelPrice,
    ModelSupports,
    PolicyConfig,
    RetryConfig,
    ServerConfig,
    ServerKey,
    SessionConfig,
    ShadowConfig,
    TierPrice,
)

__all__ = [
    "DEFAULT_TIERS",
    "ConfigSource",
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
    "check_references",
    "known_quality",
    "load_config",
]
