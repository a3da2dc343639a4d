"""The typed values that steer a fleet: strict, bare on the wire, refused in one line."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from personas.fleet.steering import RiskTolerance, ShadowMode


@pytest.mark.parametrize("value", [0, 0.0, 0.4, 1, 1.0])
def test_a_risk_tolerance_is_a_number_in_the_unit_interval(value: float) -> None:
    assert RiskTolerance.model_validate(value).root == float(value)


@pytest.mark.parametrize("value", [True, False, -0.5, 2, "0.3", None, float("nan")])
def test_anything_else_is_refused_with_its_value(value: object) -> None:
    with pytest.raises(ValidationError) as refused:
        RiskTolerance.model_validate(value)
    assert refused.value.errors()[0]["msg"] == f"risk tolerance must be in [0, 1], got {value!r}"


def test_steering_values_stay_bare_on_the_wire() -> None:
    assert RiskTolerance(0.4).model_dump_json() == "0.4"
    assert TypeAdapter(RiskTolerance).validate_json(b"1").root == 1.0
    assert ShadowMode(True).model_dump_json() == "true"


def test_shadow_mode_is_true_or_false_only() -> None:
    assert ShadowMode.model_validate(False).root is False
    with pytest.raises(ValidationError, match="shadow must be true or false, got 'yes'"):
        ShadowMode.model_validate("yes")
    with pytest.raises(ValidationError, match="shadow must be true or false, got 1"):
        ShadowMode.model_validate(1)
