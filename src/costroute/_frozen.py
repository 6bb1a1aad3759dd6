"""Read-only JSON containers: data that many readers share and nobody may change.

``FrozenDict`` and ``FrozenList`` are real ``dict``/``list`` subclasses, so ``json.dumps``,
equality and every reader work unchanged; only mutation raises ``TypeError``. ``freeze`` makes a
deeply read-only copy of JSON data, ``thaw`` a plain, mutable one.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["FrozenDict", "FrozenList", "freeze", "thaw"]


def _read_only(self: object, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(f"{type(self).__name__} is read-only")


class FrozenDict(dict[str, Any]):
    """A ``dict`` that cannot be changed."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))


class FrozenList(list[Any]):
    """A ``list`` that cannot be changed."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self),))


def freeze(value: Any) -> Any:
    """A deeply read-only copy of JSON data (dicts become frozen dicts, lists and tuples frozen
    lists; scalars are shared)."""
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return FrozenList([freeze(v) for v in value])
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of JSON data (frozen or not; tuples become lists)."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value
