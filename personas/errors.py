"""Validation errors as the one line a user reads."""

from __future__ import annotations

from pydantic import ValidationError


def _location(loc: tuple[int | str, ...], default: str) -> str:
    return ".".join(str(part) for part in loc) or default


def first_error(err: ValidationError, where: str = "input") -> str:
    """The first error of a validation as ``location: message`` (``where`` for the root)."""
    first = err.errors()[0]
    return f"{_location(first['loc'], where)}: {first['msg']}"


def all_errors(err: ValidationError, where: str = "input") -> str:
    """Every error of a validation, ``location: message`` joined by ``; ``."""
    return "; ".join(f"{_location(e['loc'], where)}: {e['msg']}" for e in err.errors())
