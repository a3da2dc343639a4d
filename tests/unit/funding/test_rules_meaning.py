"""Rules documents that mean one thing: contradictions, overlaps, unknown metrics,
thresholds out of range, unsatisfiable conditions and self-raised caps are refused."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personas.funding.intervals import Comparison
from personas.funding.metrics import EVIDENCE, METRICS, PerformanceOutcome, performance
from personas.funding.rules import (
    DEFAULT_MAX_CHANGE_PERCENT,
    DEFAULT_RULES,
    Condition,
    Rule,
    RulesError,
    RuleSet,
    apply_rules,
    parse_rules,
)
from personas.funding.rules_check import overlap, satisfying


def _c(metric: str, op: str, threshold: float) -> dict[str, Any]:
    return {"metric": metric, "op": op, "threshold": threshold}


def _rule(name: str, adjust: float, *conditions: dict[str, Any], match: str = "all") -> Any:
    return {"name": name, "match": match, "conditions": list(conditions), "adjust_percent": adjust}


UP = _rule("up", 10, _c("accuracy", ">", 0.9))
DOWN = _rule("down", -20, _c("resolution_rate", "<", 0.5))


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            {"rules": [UP, _rule("down", -20, _c("accuracy", ">", 0.9))]},
            r"rules up and down can both match \(e\.g\. accuracy 1, outcomes 1\) with "
            r"different changes \(\+10% and -20%\)",
        ),
        ({"rules": [UP, DOWN]}, "rules up and down can both match"),
        (
            {"rules": [_rule("up", 10, _c("acuracy", ">", 0.9))]},
            "rule up: condition 1: unknown metric 'acuracy'; did you mean accuracy?",
        ),
        (
            {"rules": [_rule("up", 10, _c("accuracy", ">", 7.5))]},
            r"rule up: condition 1: threshold 7\.5 lies outside the range of accuracy, \[0, 1\]",
        ),
        (
            {"rules": [_rule("up", 10, _c("accuracy", ">", 1))]},
            "rule up: condition 1: accuracy > 1 can never hold",
        ),
        (
            {"rules": [_rule("up", 10, _c("accuracy", ">", 0.9), _c("accuracy", "<", 0.5))]},
            r"rule up: conditions accuracy > 0\.9 and accuracy < 0\.5 can never hold together",
        ),
        (
            {"rules": [_rule("up", 10, _c("outcomes", "<", 1), _c("accuracy", ">", 0.5))]},
            "every metric but outcomes is reported only when outcomes >= 1",
        ),
        (
            {"rules": [_rule("up", 10, _c("outcomes", ">", 3), _c("outcomes", "<", 4))]},
            "can never hold together",  # outcomes is a count
        ),
        (
            {"rules": [_rule("boost", 1000, _c("accuracy", ">", 0.9))],
             "caps": {"max_change_percent": 1000}},
            r"rule boost: adjustment \+1000% exceeds the cap of 50%, the largest permitted "
            "change: PERSONAS_FUNDING_MAX_CHANGE_PERCENT, which a document cannot raise",
        ),
        (
            {"rules": [UP], "caps": {"max_change_percent": 1000}},
            "caps.max_change_percent: 1000% is above the largest permitted change, 50%",
        ),
        (
            {"rules": [_rule("up", 30, _c("accuracy", ">", 0.9))],
             "caps": {"max_change_percent": 25}},
            "rule up: adjustment .30% exceeds the cap of 25%, the document's own",
        ),
        ({"rules": [UP, DOWN], "precedence": ["down"]}, "precedence must list every rule"),
        ({"rules": [UP, DOWN], "precedence": ["down", "up", "up"]}, "more than once"),
        ({"rules": [UP, DOWN], "precedence": ["down", "upp"]}, "unknown rules: upp"),
    ],
)  # fmt: skip
def test_documents_that_do_not_mean_one_thing_are_refused(document: Any, reason: str) -> None:
    with pytest.raises(RulesError, match=reason) as refused:
        parse_rules(document)
    assert "\n" not in str(refused.value)
    assert str(refused.value).startswith("invalid rules document: ")


def test_an_explicit_precedence_decides_and_is_kept() -> None:
    rules = parse_rules({"rules": [UP, DOWN], "precedence": ["down", "up"]})
    assert rules.precedence == ("down", "up")
    both = {"outcomes": 3.0, "accuracy": 0.95, "resolution_rate": 0.4}
    assert apply_rules(rules, both, 1_000).rule == "down"
    assert apply_rules(rules, {"outcomes": 3.0, "accuracy": 0.95}, 1_000).rule == "up"
    assert parse_rules(rules.model_dump(mode="json")) == rules  # shown back, stored again


def test_the_cap_is_the_deployments_and_a_document_may_only_lower_it() -> None:
    doc = {"rules": [_rule("up", 40, _c("accuracy", ">", 0.9))]}
    with pytest.raises(RulesError, match="exceeds the cap of 30%"):
        parse_rules(doc, max_change_percent=30)
    assert parse_rules(doc, max_change_percent=40).caps.max_change_percent is None
    lower = parse_rules({**doc, "caps": {"max_change_percent": 45}}, max_change_percent=60)
    assert lower.capped(60).caps.max_change_percent == 45
    assert lower.capped(20).caps.max_change_percent == 20  # a later, lower deployment bound
    boost = _rule("boost", 1000, _c("accuracy", ">", 0.9))
    caps = {"max_change_percent": 1000}
    stored = RuleSet.model_validate({"rules": [boost], "caps": caps})  # stored before checks
    applied = apply_rules(stored.capped(DEFAULT_MAX_CHANGE_PERCENT), {"accuracy": 1.0}, 1_000)
    assert (applied.percent, applied.after) == (50, 1_500)


def test_the_defaults_mean_one_thing() -> None:
    assert parse_rules(DEFAULT_RULES.model_dump(mode="json")) == DEFAULT_RULES
    assert overlap(DEFAULT_RULES.rules[0], DEFAULT_RULES.rules[1]) is None


def test_outcomes_report_only_recorded_metrics_in_their_ranges() -> None:
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        PerformanceOutcome(resolved=True, extra={"acuracy": 0.5})
    with pytest.raises(ValueError, match="unknown metric 'accuracy'"):
        PerformanceOutcome(resolved=True, extra={"accuracy": 0.5})  # computed, not reported
    with pytest.raises(ValueError, match="outside its range"):
        PerformanceOutcome(resolved=True, extra={"latency_s": -1.0})
    assert set(performance([PerformanceOutcome(resolved=True, accurate=True)])) <= set(METRICS)


# ---------------------------------------------------------------------- properties
NAMES = sorted(METRICS)


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    metric = draw(st.sampled_from(NAMES))
    spec = METRICS[metric]
    high = spec.high if math.isfinite(spec.high) else 10.0
    edge = st.sampled_from([spec.low, high, (spec.low + high) / 2])
    threshold = draw(
        st.one_of(edge, st.floats(spec.low, high), st.integers(int(spec.low), int(high)))
    )
    return Condition(metric=metric, op=draw(st.sampled_from(Comparison)), threshold=threshold)


@st.composite
def rules(draw: st.DrawFn, name: str = "r") -> Rule:
    return Rule(
        name=name,
        match=draw(st.sampled_from(["all", "any"])),
        conditions=tuple(draw(st.lists(conditions(), min_size=1, max_size=4))),
        adjust_percent=draw(st.sampled_from([-20, 10])),
    )


def _near(threshold: float) -> list[float]:
    return [threshold, math.nextafter(threshold, -math.inf), math.nextafter(threshold, math.inf)]


@st.composite
def points(draw: st.DrawFn, *about: Rule) -> dict[str, float]:
    """Metrics as the system reports them: a count of outcomes, and with at least one
    outcome any of the other metrics in their ranges; values near the rules' thresholds."""
    near = [v for r in about for c in r.conditions for v in _near(c.threshold)]
    count = draw(st.one_of(st.integers(0, 12), st.sampled_from([round(v) for v in near] or [0])))
    point = {EVIDENCE: float(max(0, count))}
    if count <= 0:
        return point
    for metric in NAMES:
        spec = METRICS[metric]
        if metric == EVIDENCE or not draw(st.booleans()):
            continue
        high = spec.high if math.isfinite(spec.high) else 20.0
        value = draw(st.one_of(st.floats(spec.low, high), st.sampled_from(near or [spec.low])))
        if spec.contains(value):
            point[metric] = value
    return point


def _possible(point: dict[str, float]) -> bool:
    others = any(m != EVIDENCE for m in point)
    return all(METRICS[m].contains(v) for m, v in point.items()) and (
        not others or point[EVIDENCE] >= 1
    )


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_overlap_detection_is_exact(data: st.DataObject) -> None:
    a, b = data.draw(rules("a")), data.draw(rules("b"))
    found = overlap(a, b)
    assert (found is None) == (overlap(b, a) is None)
    if found is not None:  # the example is possible metrics that both rules match
        assert _possible(found)
        assert a.matches(found)
        assert b.matches(found)
    for _ in range(4):  # and when some metrics match both, the overlap was found
        point = data.draw(points(a, b))
        if a.matches(point) and b.matches(point):
            assert found is not None, (a, b, point)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_satisfiability_is_exact(data: st.DataObject) -> None:
    rule = data.draw(rules())
    found = satisfying(rule)
    if found is not None:
        assert _possible(found)
        assert rule.matches(found)
    for _ in range(4):
        point = data.draw(points(rule))
        if rule.matches(point):
            assert found is not None, (rule, point)


@settings(max_examples=100, deadline=None)
@given(st.lists(rules(), min_size=1, max_size=4), st.data())
def test_stored_documents_match_at_most_one_change(
    ruleset: list[Rule], data: st.DataObject
) -> None:
    named = [r.model_copy(update={"name": f"r{i}"}) for i, r in enumerate(ruleset)]
    try:
        parsed = parse_rules({"rules": [r.model_dump(mode="json") for r in named]})
    except RulesError:
        return
    for _ in range(4):
        point = data.draw(points(*parsed.rules))
        changes = {r.adjust_percent for r in parsed.rules if r.matches(point)}
        assert len(changes) <= 1, (parsed, point)
