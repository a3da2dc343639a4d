"""The typed values that steer a running fleet adaptation: its risk tolerance, shadow mode.

Each is a root model, so on the wire it stays a bare number or boolean, and a bad value is
refused with one clear line: a risk tolerance is a real number in [0, 1] (``True`` is not
1.0), shadow mode is ``true`` or ``false`` (``"yes"`` is not true).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    Field,
    RootModel,
    StrictBool,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from personas.bounds import quote


def _risk_in_range(value: Any, handler: ValidatorFunctionWrapHandler) -> float:
    try:
        return float(handler(value))
    except ValidationError:
        raise PydanticCustomError(
            "risk_tolerance",
            "risk tolerance must be in [0, 1], got {given}",
            {"given": quote(value)},
        ) from None


def _true_or_false(value: Any, handler: ValidatorFunctionWrapHandler) -> bool:
    try:
        return bool(handler(value))
    except ValidationError:
        raise PydanticCustomError(
            "shadow_mode", "shadow must be true or false, got {given}", {"given": quote(value)}
        ) from None


RiskValue = Annotated[
    float, Field(strict=True, ge=0.0, le=1.0, allow_inf_nan=False), WrapValidator(_risk_in_range)
]
"""A risk tolerance in [0, 1]: an int or a float, never a bool, a string or NaN."""


class RiskTolerance(RootModel[RiskValue]):
    """A new risk tolerance for a fleet (the ``set_risk`` update, the ``risk`` signal)."""


class ShadowMode(RootModel[Annotated[StrictBool, WrapValidator(_true_or_false)]]):
    """Shadow mode on or off (the ``set_shadow`` update)."""
