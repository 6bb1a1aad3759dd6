"""``costroute serve``: an OpenAI-compatible HTTP proxy in front of an ``AsyncClient``.

Needs the ``server`` extra (``pip install 'costroute[server]'``: starlette, uvicorn,
prometheus-client), imported only when an app is built. ``create_app(config)`` returns the
Starlette app (run it with any ASGI server); ``costroute serve`` runs it on uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import ConfigError

if TYPE_CHECKING:
    from ._app import ServerState, app_from_env, create_app

__all__ = ["EXTRA_HINT", "ServerState", "app_from_env", "create_app", "require_server_extra"]

EXTRA_HINT = "costroute serve needs the server extra: pip install 'costroute[server]'"


def require_server_extra() -> None:
    """Raise a ``ConfigError`` naming the extra when starlette, uvicorn or prometheus-client is missing."""
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn", "prometheus_client") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"{EXTRA_HINT} (missing: {', '.join(missing)})")


def __getattr__(name: str) -> Any:
    if name in ("create_app", "app_from_env", "ServerState"):
        require_server_extra()
        from . import _app

        return getattr(_app, name)
    raise AttributeError(f"module 'costroute.server' has no attribute {name!r}")
