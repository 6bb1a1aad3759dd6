"""Sets of rows as integers (bit ``i`` = row ``i``), and sums of per-row values over them.

Scoring thousands of cascades on thousands of prompts is mostly "add up this model's score (or
cost) over the prompts where that step was accepted". With the prompts as bits of a Python
integer, the sets come from a few bitwise operations, and :class:`RowSums` adds a value over a
set a byte (8 rows) at a time from precomputed tables, so each sum costs ``n / 8`` look-ups.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["RowSums", "at_least"]


class RowSums:
    """Sums of ``values`` (one per row) over sets of rows."""

    def __init__(self, values: Sequence[float]) -> None:
        self.n = len(values)
        self._tables: list[list[float]] = []
        for start in range(0, self.n, 8):
            table = [0.0]  # table[byte]: the sum of the chunk's values at the byte's set bits
            for value in list(values[start:start + 8]) + [0.0] * (start + 8 - min(self.n, start + 8)):
                table += [t + value for t in table]
            self._tables.append(table)

    def total(self, rows: int) -> float:
        """The sum over the rows in ``rows``."""
        return self.cumulative(rows, (self.n,))[0]

    def cumulative(self, rows: int, cuts: Sequence[int]) -> list[float]:
        """For each ``cut`` (ascending): the sum over the rows of ``rows`` below ``cut``."""
        if rows < 0:
            raise ValueError("a row set is a non-negative integer")
        data = (rows & ((1 << self.n) - 1)).to_bytes((self.n + 7) // 8 or 1, "little")
        out: list[float] = []
        total = 0.0
        tables = self._tables
        pick = list.__getitem__
        position = 0  # the chunks below position // 8 are summed
        for cut in cuts:
            if cut < position:
                raise ValueError("cuts must be ascending")
            whole = cut // 8
            lo = position // 8
            if whole > lo:
                total += sum(map(pick, tables[lo:whole], data[lo:whole]))
            position = whole * 8
            partial = tables[whole][data[whole] & ((1 << (cut % 8)) - 1)] if cut % 8 else 0.0
            out.append(total + partial)
        return out


def at_least(sets: Sequence[int], k: int, everything: int) -> int:
    """The rows in at least ``k`` of ``sets`` (``everything`` for ``k <= 0``)."""
    if k <= 0:
        return everything
    if k > len(sets):
        return 0
    levels = [everything] + [0] * k  # levels[j]: rows in at least j of the sets seen so far
    for s in sets:
        for j in range(k, 0, -1):
            levels[j] |= levels[j - 1] & s
    return levels[k]
