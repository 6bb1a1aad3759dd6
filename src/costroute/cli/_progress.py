"""Progress bars for long commands: shown on a terminal, silent when the output is piped."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["Bars"]

T = TypeVar("T")


class Bars:
    """``with Bars(console) as bars:`` then ``bars.track(items, "reading")`` or
    ``step = bars.task("searching")`` and ``step(done, total)``. Drawn on ``console`` (stderr by
    default) only when it is a terminal; bars disappear once their command is done."""

    def __init__(self, console: Console | None = None) -> None:
        console = console or Console(stderr=True)
        self.enabled = console.is_terminal
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, disable=not self.enabled, transient=True,
        )

    def __enter__(self) -> Bars:
        self._progress.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.__exit__(kind, exc, tb)

    def track(self, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        if total is None and hasattr(items, "__len__"):
            total = len(items)  # type: ignore[arg-type]
        task = self._progress.add_task(description, total=total)
        for item in items:
            yield item
            self._progress.advance(task)

    def task(self, description: str) -> Callable[[int, int], None]:
        """A ``(done, total)`` callback that moves a new bar."""
        task = self._progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            self._progress.update(task, completed=done, total=total)

        return update
