"""Money conversions: ``Decimal`` US dollars in Python, integer micro-dollars in stores.

One micro-dollar is $0.000001. Recorded costs are rounded half-even to the micro-dollar (the same
function for the ledger and the budget counters, so a ledger sum equals its counter); reservations
round up, so an estimate never reserves less than it asked for.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

__all__ = ["MICROS_PER_USD", "from_micros", "is_micros", "round_micros", "to_micros", "to_micros_ceil"]

MICROS_PER_USD = 1_000_000
_MICRO = Decimal("0.000001")
_ZERO = Decimal("0.000000")


def _finite(amount: Decimal) -> Decimal:
    value = Decimal(amount)
    if not value.is_finite():
        raise ValueError(f"money must be a finite amount, not {value}")
    return value


def to_micros(amount: Decimal) -> int:
    """Dollars to integer micro-dollars, rounded half-even. Raises ``ValueError`` for NaN or infinity."""
    return int((_finite(amount) * MICROS_PER_USD).to_integral_value(rounding=ROUND_HALF_EVEN))


def to_micros_ceil(amount: Decimal) -> int:
    """Dollars to integer micro-dollars, rounded up (for reservations)."""
    return int((_finite(amount) * MICROS_PER_USD).to_integral_value(rounding=ROUND_CEILING))


def from_micros(micros: int) -> Decimal:
    """Integer micro-dollars to dollars, with six decimal places."""
    return (Decimal(int(micros)) / MICROS_PER_USD).quantize(_MICRO)


def round_micros(amount: Decimal) -> Decimal:
    """Dollars rounded half-even to the micro-dollar, six decimal places: the same value as
    ``from_micros(to_micros(amount))``, in one step. Raises ``ValueError`` for NaN or infinity."""
    rounded = _finite(amount).quantize(_MICRO, rounding=ROUND_HALF_EVEN)
    return rounded if rounded else _ZERO  # never a signed zero


def is_micros(amount: object) -> bool:
    """True for a ``Decimal`` already in ledger form (six decimal places, no signed zero)."""
    return type(amount) is Decimal and amount.as_tuple().exponent == -6 and not (amount.is_signed() and not amount)
