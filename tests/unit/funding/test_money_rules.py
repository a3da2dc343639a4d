"""Amount parsing and the funding rules documents."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personas.funding.money import AmountError, fmt, parse_amount
from personas.funding.rules import DEFAULT_RULES, RulesError, apply_rules, parse_rules


@pytest.mark.parametrize(
    ("value", "micros"),
    [
        ("1", 1_000_000),
        ("0.000001", 1),
        (" 12.5 ", 12_500_000),
        (3, 3_000_000),
        (Decimal("2"), 2_000_000),
    ],
)
def test_valid_amounts(value: object, micros: int) -> None:
    assert parse_amount(value) == micros


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("-1", "negative"),
        ("abc", "not a number"),
        ("", "not a number"),
        ("NaN", "not a number"),
        ("Infinity", "not a number"),
        ("0", "greater than zero"),
        ("0.0000001", "6 decimal places"),
        (1.5, "decimal string"),
        (True, "decimal string"),
        (None, "not a number"),
        ("1e30", "too large"),
    ],
)
def test_bad_amounts_are_refused_with_the_reason(value: object, reason: str) -> None:
    with pytest.raises(AmountError, match=reason):
        parse_amount(value)


@given(st.integers(min_value=1, max_value=10**15))
def test_amounts_round_trip_through_their_format(micros: int) -> None:
    assert parse_amount(fmt(micros)) == micros


def test_default_rules_are_the_design() -> None:
    good = {"resolution_rate": 0.85, "accuracy": 0.95}
    assert apply_rules(DEFAULT_RULES, good, 1_000).after == 1_100
    assert (
        apply_rules(DEFAULT_RULES, {"resolution_rate": 0.4, "accuracy": 0.95}, 1_000).after == 800
    )
    assert apply_rules(DEFAULT_RULES, {"resolution_rate": 0.9, "accuracy": 0.6}, 1_000).after == 800
    middling = apply_rules(DEFAULT_RULES, {"resolution_rate": 0.7, "accuracy": 0.8}, 1_000)
    assert middling.rule is None
    assert middling.after == 1_000


@pytest.mark.parametrize(
    ("metrics", "rule"),
    [
        ({"resolution_rate": 0.8, "accuracy": 0.95}, None),  # > 0.8 is strict
        ({"resolution_rate": 0.81, "accuracy": 0.9}, None),  # > 0.9 is strict
        ({"resolution_rate": 0.5, "accuracy": 0.7}, None),  # < 0.5, < 0.7 strict
        ({"resolution_rate": 0.49, "accuracy": 0.7}, "penalise"),
        ({"outcomes": 0.0}, None),  # no evidence, no change
    ],
)
def test_rule_boundaries(metrics: dict[str, float], rule: str | None) -> None:
    assert apply_rules(DEFAULT_RULES, metrics, 1_000).rule == rule


def test_caps_bound_the_allocation() -> None:
    doc = DEFAULT_RULES.model_dump(mode="json")
    doc["caps"] = {"min_allocation": 900, "max_allocation": 1_050, "max_change_percent": 25}
    rules = parse_rules(doc)
    assert apply_rules(rules, {"resolution_rate": 1, "accuracy": 1}, 1_000).after == 1_050
    assert apply_rules(rules, {"resolution_rate": 0, "accuracy": 0}, 1_000).after == 900


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("{not json", "not JSON"),
        ({"rules": [{"name": "r", "conditions": [], "adjust_percent": 5}]}, "conditions"),
        ({"rules": [{"name": "r", "conditions": [{"metric": "a", "op": "==", "threshold": 1}],
                     "adjust_percent": 5}]}, "op"),
        ({"rules": [{"name": "r", "conditions": [{"metric": "a", "op": ">", "threshold": "x"}],
                     "adjust_percent": 5}]}, "threshold"),
        ({"rules": [{"name": "r", "conditions": [{"metric": "a", "op": ">", "threshold": 1}],
                     "adjust_percent": 80}]}, "exceeds the cap"),
        ({"rules": [], "caps": {"min_allocation": 5, "max_allocation": 1}}, "min_allocation"),
        ({"rules": [], "extra": 1}, "extra"),
        ({"rules": [{"name": "a", "conditions": [{"metric": "a", "op": ">", "threshold": 1}],
                     "adjust_percent": 5}] * 2}, "duplicate rule names"),
    ],
)  # fmt: skip
def test_malformed_rules_are_refused_with_the_reason(document: object, reason: str) -> None:
    with pytest.raises(RulesError, match=reason):
        parse_rules(document if isinstance(document, str) else json.loads(json.dumps(document)))
