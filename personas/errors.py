"""Validation errors as the one line a user reads."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def _location(loc: tuple[int | str, ...], default: str) -> str:
    return ".".join(str(part) for part in loc) or default


def _message(error: Any) -> str:
    # A validator's own ValueError reads as its message, not "Value error, <message>".
    return str(error["msg"]).removeprefix("Value error, ")


def first_error(err: ValidationError, where: str = "input") -> str:
    """The first error of a validation as ``location: message`` (``where`` for the root)."""
    first = err.errors()[0]
    return f"{_location(first['loc'], where)}: {_message(first)}"


def all_errors(err: ValidationError, where: str = "input") -> str:
    """Every error of a validation, ``location: message`` joined by ``; ``."""
    return "; ".join(f"{_location(e['loc'], where)}: {_message(e)}" for e in err.errors())
