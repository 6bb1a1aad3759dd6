"""costroute's command line: ``costroute route|prices|demo|config|serve|batch``, and spend and eval commands.

Each command lives in its own module with a ``register(app)`` function and imports the heavy parts
of costroute (and never litellm, except ``demo``) only when it runs, so ``costroute --help`` is fast.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from .._version import __version__

__all__ = ["app", "main"]

#: Command modules that always ship with the CLI.
_BUILTIN = ("_route", "_prices", "_demo", "_config", "_serve", "_batch")
#: Command modules owned by other packages of costroute; skipped when absent.
_OPTIONAL = ("_spend", "_eval", "_routing")

app = typer.Typer(
    name="costroute",
    help="Route every LLM request to the cheapest adequate model, and account for every cent.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_show_locals=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"costroute {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Route every LLM request to the cheapest adequate model, and account for every cent."""


def _register(app: typer.Typer) -> None:
    for name in _BUILTIN:
        importlib.import_module(f"{__name__}.{name}").register(app)
    for name in _OPTIONAL:
        module_name = f"{__name__}.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise  # the module exists but something it imports does not: a real error
            continue
        module.register(app)


_register(app)


def main() -> None:
    """The ``costroute`` console script."""
    app()
