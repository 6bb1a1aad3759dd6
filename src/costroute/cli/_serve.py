"""``costroute serve``: the OpenAI-compatible proxy on uvicorn (needs the ``server`` extra).

    costroute serve --config costroute.yaml --host 127.0.0.1 --port 4000 [--workers 4]

Refused before anything listens: a non-loopback ``--host`` with no ``server.keys``, and
``--workers`` above 1 with a memory ledger, budget store or cache (each worker is a process with
memory of its own, so budgets would not hold across them).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._console import errors_as_messages

if TYPE_CHECKING:
    from ..policies import CostrouteConfig

__all__ = ["WORKER_HEALTHCHECK_S", "check_serve", "is_loopback", "register", "serve"]

#: How long a worker may take to answer uvicorn's supervisor before it is killed and replaced.
WORKER_HEALTHCHECK_S = 120


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_serve(config: CostrouteConfig, *, host: str, workers: int) -> None:
    """Refuse a setup that would serve without keys beyond loopback, or split state across workers."""
    from .._errors import ConfigError

    if not is_loopback(host) and not config.server.keys:
        raise ConfigError(
            f"refusing to listen on {host!r} without virtual keys: anyone who can reach it could spend your "
            "provider budget. Add `server: {keys: [...]}` to the configuration, or listen on 127.0.0.1."
        )
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    if workers > 1:
        memory = []
        if config.ledger.backend == "memory":
            memory.append("ledger")
        if (config.budgets or any(p.shadow for p in config.policies.values())) and \
                config.budget_store.backend == "memory":
            memory.append("budget_store")
        if config.cache.enabled and config.cache.backend == "memory":
            memory.append("cache")
        if memory:
            raise ConfigError(
                f"--workers {workers} runs {workers} processes, but {', '.join(memory)} "
                f"{'uses' if len(memory) == 1 else 'use'} the memory backend, which each process would keep "
                "apart (budgets would not hold across them). Use sqlite, redis or postgres (for the cache: "
                "sqlite or redis, or `cache: {enabled: false}`), or --workers 1."
            )


def serve(
    config: Annotated[Path | None, typer.Option(help="costroute config file (default: $COSTROUTE_CONFIG).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on. Beyond loopback, server.keys are required.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 4000,
    workers: Annotated[int, typer.Option(help="Worker processes (sharing SQLite, Redis or PostgreSQL state).")] = 1,
    drain_timeout: Annotated[float, typer.Option(help="Seconds SIGTERM waits for in-flight requests.")] = 30.0,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Serve an OpenAI-compatible API (POST /v1/chat/completions, ...) that routes every request."""
    from ..server import require_server_extra

    with errors_as_messages():
        require_server_extra()
        from ..policies import load_config

        path = config or (Path(os.environ["COSTROUTE_CONFIG"]) if os.environ.get("COSTROUTE_CONFIG") else None)
        if path is None:
            raise typer.BadParameter("give --config (or set $COSTROUTE_CONFIG)", param_hint="--config")
        cfg = load_config(path)
        check_serve(cfg, host=host, workers=workers)
    run(str(path.resolve()), cfg, host=host, port=port, workers=workers, drain_timeout=drain_timeout,
        log_level=log_level)


def run(path: str, cfg: CostrouteConfig, *, host: str, port: int, workers: int, drain_timeout: float,
        log_level: str) -> None:
    """Run uvicorn: the app itself with one worker, the ``app_from_env`` factory in each of several
    (with a fresh prometheus multiprocess directory, removed afterwards)."""
    import uvicorn

    options = {"host": host, "port": port, "log_level": log_level, "timeout_graceful_shutdown": drain_timeout,
               "proxy_headers": False, "server_header": False}
    if workers > 1:
        # uvicorn kills a worker that misses a 5 s health check, with its in-flight requests: under a
        # burst on a small machine a busy worker is not a hung one (its streams would go unbooked).
        options["timeout_worker_healthcheck"] = WORKER_HEALTHCHECK_S
    if workers == 1:
        from ..server import create_app

        uvicorn.run(create_app(cfg), **options)  # type: ignore[arg-type]
        return
    metrics_dir = tempfile.mkdtemp(prefix="costroute-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    os.environ["COSTROUTE_SERVE_CONFIG"] = path
    try:
        uvicorn.run("costroute.server._app:app_from_env", factory=True, workers=workers,
                    **options)  # type: ignore[arg-type]
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
