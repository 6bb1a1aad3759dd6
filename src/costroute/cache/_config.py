"""Cache configuration: validated, frozen pydantic models."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from costroute.cache._memory import MemoryCacheStore
from costroute.cache._redis import RedisCacheStore
from costroute.cache._sqlite import SQLiteCacheStore
from costroute.cache._store import CacheStore

__all__ = ["CacheConfig", "PolicyCacheConfig", "default_sqlite_path", "store_from_config"]

_MIB = 1024 * 1024


class CacheConfig(BaseModel):
    """The ``cache:`` section. ``url`` (Redis) is a secret: it may hold a password."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    backend: Literal["memory", "sqlite", "redis"] = "memory"
    ttl_s: int | None = Field(default=3600, gt=0)
    namespace_tag: str = Field(default="user", min_length=1)
    max_entries: int = Field(default=10_000, gt=0)
    max_bytes: int = Field(default=256 * _MIB, gt=0)
    path: str | None = None
    url: SecretStr | None = None

    @model_validator(mode="after")
    def _backend_settings(self) -> CacheConfig:
        if self.backend == "redis" and self.url is None:
            raise ValueError("backend 'redis' needs `url` (e.g. redis://localhost:6379/0)")
        if self.backend != "redis" and self.url is not None:
            raise ValueError(f"`url` is only used by backend 'redis', not {self.backend!r}")
        if self.backend != "sqlite" and self.path is not None:
            raise ValueError(f"`path` is only used by backend 'sqlite', not {self.backend!r}")
        return self


class PolicyCacheConfig(BaseModel):
    """A policy's ``cache:`` overrides; ``None`` inherits the global setting."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool | None = None
    ttl_s: int | None = Field(default=None, gt=0)


def default_sqlite_path(env: Mapping[str, str] | None = None) -> Path:
    """``$COSTROUTE_HOME/cache.sqlite3``, else ``~/.local/share/costroute/cache.sqlite3``."""
    environ = os.environ if env is None else env
    home = environ.get("COSTROUTE_HOME")
    base = Path(home) if home else Path.home() / ".local" / "share" / "costroute"
    return base / "cache.sqlite3"


def store_from_config(config: CacheConfig) -> CacheStore:
    """The store ``config`` describes (the ``redis`` backend imports ``redis`` here)."""
    if config.backend == "sqlite":
        path = Path(config.path) if config.path else default_sqlite_path()
        return SQLiteCacheStore(path, config.max_entries, config.max_bytes)
    if config.backend == "redis":
        assert config.url is not None  # checked by the model
        return RedisCacheStore(
            config.url, config.max_entries, config.ttl_s, max_bytes=config.max_bytes
        )
    return MemoryCacheStore(config.max_entries, config.max_bytes)
