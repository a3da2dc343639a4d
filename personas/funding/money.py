"""Money as integer micro-units, and the parsing that refuses bad amounts at the edge."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from personas.bounds import quote

MICROS = 1_000_000
MAX_MICROS = 10**17  # a hundred billion units: far beyond any budget, within BIGINT


class AmountError(ValueError):
    """An amount that is negative, not a number, too precise or too large."""


def parse_amount(value: object, *, allow_zero: bool = False) -> int:
    """Parse ``value`` (a decimal string, int or Decimal) into micro-units.

    Refuses booleans, floats (inexact), non-numeric text, NaN/infinity, negative amounts,
    zero (unless ``allow_zero``), more than 6 decimal places and absurdly large amounts.
    """
    if isinstance(value, bool | float):
        raise AmountError(f"amount {quote(value)} must be a decimal string or an integer")
    try:
        dec = Decimal(str(value).strip()) if isinstance(value, str | int | Decimal) else None
    except InvalidOperation:
        dec = None
    if dec is None or not dec.is_finite():
        raise AmountError(f"amount {quote(value)} is not a number")
    if dec < 0:
        raise AmountError(f"amount {quote(str(value))[1:-1]} is negative")
    if dec == 0 and not allow_zero:
        raise AmountError("amount must be greater than zero")
    micros = dec * MICROS
    if micros != micros.to_integral_value():
        raise AmountError(f"amount {quote(str(value))[1:-1]} has more than 6 decimal places")
    if micros > MAX_MICROS:
        raise AmountError(f"amount {quote(str(value))[1:-1]} is too large")
    return int(micros)


def to_micros(amount: Decimal) -> int:
    """Exact micro-units of a non-negative Decimal with at most 6 decimal places."""
    return parse_amount(amount, allow_zero=True)


def fmt(micros: int) -> str:
    """Format micro-units as a decimal string with 6 places, e.g. ``12.500000``."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS)
    return f"{sign}{whole}.{frac:06d}"
