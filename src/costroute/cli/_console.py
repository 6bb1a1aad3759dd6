"""Output helpers shared by the commands: rich consoles, JSON, and errors as one-line messages."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["emit_json", "errors_as_messages", "money", "stderr", "stdout", "usd", "usd_column"]


#: Width of tables written to a pipe or a file, where no terminal width is known.
_PIPE_WIDTH = 160


def stdout() -> Console:
    """A console on the current ``sys.stdout`` (created per command, so test runners capture it).

    Written to a pipe, tables get :data:`_PIPE_WIDTH` columns (not rich's 80) unless ``COLUMNS``
    says otherwise, so that model names are not cut.
    """
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = _PIPE_WIDTH
    return console


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def emit_json(payload: Any) -> None:
    """Print ``payload`` as indented JSON (``Decimal`` as a string, so no cent is lost)."""
    typer.echo(json.dumps(payload, indent=2, default=_default))


def money(value: Decimal | None, places: int = 6) -> str:
    """``$0.000155`` (fixed places, so columns line up); ``-`` when unknown."""
    if value is None:
        return "-"
    return f"${value:,.{places}f}"


#: Most decimal places :func:`usd` shows (ledgers keep micro-dollars; config amounts go to 1e-10).
_MAX_PLACES = 10
#: Places of a micro-dollar: amounts below a dollar show exactly down to it.
_MICRO_PLACES = 6


def _places(value: Decimal, significant: int) -> int:
    """Cents from a dollar up; below, the places the amount needs, down to the micro-dollar (and
    ``significant`` digits for what is smaller still)."""
    if not value or not value.is_finite() or abs(value) >= 1:
        return 2
    exact = -int(abs(value).normalize().as_tuple().exponent)
    digits = significant - 1 - value.copy_abs().adjusted()
    return min(_MAX_PLACES, max(2, min(exact, max(digits, _MICRO_PLACES))))


def usd(value: Decimal | None, *, significant: int = 3) -> str:
    """``$1,234.50``, ``$0.50``, ``$0.009845``, ``$0.000000123``: cents from a dollar up; below a
    dollar every digit down to the micro-dollar (what ledgers keep), and ``significant`` digits for
    smaller amounts, so that a sub-cent amount never shows as ``$0.00``; ``-`` when unknown."""
    if value is None:
        return "-"
    return f"${value:,.{_places(value, significant)}f}"


def usd_column(values: list[Decimal | None], *, significant: int = 3) -> list[str]:
    """:func:`usd` for a table column: every amount with as many places as its most precise one
    needs, so that the decimal points line up."""
    places = max((_places(v, significant) for v in values if v is not None), default=2)
    return ["-" if v is None else f"${v:,.{places}f}" for v in values]


@contextmanager
def errors_as_messages() -> Iterator[None]:
    """Turn a :class:`~costroute.CostrouteError` into ``error: ...`` on stderr and exit status 1.

    costroute's errors never carry secrets, so their message is safe to show.
    """
    from .._errors import CostrouteError

    try:
        yield
    except CostrouteError as exc:
        stderr().print(f"[red]error:[/red] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
