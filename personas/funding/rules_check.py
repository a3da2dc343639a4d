"""What makes a rules document mean one thing; :func:`first_problem` says what does not.

Checked in order, the first problem found is reported, naming the rule and the reason:

- each rule's change is within the cap in force (the document's ``caps.max_change_percent``
  when it states a lower one, else the deployment's largest permitted change);
- each condition names a metric the system records (:data:`METRICS`), with a threshold in
  the metric's range, and can hold; a rule's ``all`` conditions can hold together;
- the document's own cap does not exceed the deployment's (a document cannot raise it);
- without a stated ``precedence``, no two rules with different changes can match the same
  metrics (their boxes of metric values, :mod:`personas.funding.intervals`, intersect).
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from personas.funding.intervals import Box, box_of, example, first_overlap
from personas.funding.metrics import EVIDENCE, METRICS

if TYPE_CHECKING:
    from personas.funding.rules import Condition, Rule, RuleSet

SETTING = "PERSONAS_FUNDING_MAX_CHANGE_PERCENT"


def boxes(rule: Rule) -> list[Box]:
    """The boxes of metric values in which ``rule`` matches (it matches in any of them)."""
    terms = [(c.metric, c.op, c.threshold) for c in rule.conditions]
    if rule.match == "all":
        return [box_of(terms)]
    return [box_of([term]) for term in terms]


def satisfying(rule: Rule) -> dict[str, float] | None:
    """Metrics for which ``rule`` matches, or None when it never can."""
    for box in boxes(rule):
        found = example(box)
        if found is not None:
            return found
    return None


def overlap(a: Rule, b: Rule) -> dict[str, float] | None:
    """Metrics for which both ``a`` and ``b`` match, or None when they never both can."""
    return first_overlap(boxes(a), boxes(b))


def _shown(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.12g}" for name, value in metrics.items())


def _unknown(metric: str) -> str:
    close = difflib.get_close_matches(metric, list(METRICS), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown metric {metric!r}{hint} (recorded metrics: {', '.join(sorted(METRICS))})"


def _condition_problem(index: int, c: Condition) -> str | None:
    spec = METRICS.get(c.metric)
    if spec is None:
        return f"condition {index}: {_unknown(c.metric)}"
    if not spec.low <= c.threshold <= spec.high:
        return (
            f"condition {index}: threshold {c.threshold:g} lies outside the range of "
            f"{c.metric}, {spec.shown()}"
        )
    if example(box_of([(c.metric, c.op, c.threshold)])) is None:
        return f"condition {index}: {c.shown()} can never hold ({c.metric} lies in {spec.shown()})"
    return None


def _together_problem(rule: Rule) -> str | None:
    if rule.match != "all" or satisfying(rule) is not None:
        return None
    box = boxes(rule)[0]
    empty = sorted(m for m, interval in box.items() if interval.empty)
    metric = next((m for m in empty if m != EVIDENCE), empty[0])
    if metric == EVIDENCE and len(box) > 1:
        shown = " and ".join(c.shown() for c in rule.conditions)
        why = f" (every metric but {EVIDENCE} is reported only when {EVIDENCE} >= 1)"
    else:
        shown = " and ".join(c.shown() for c in rule.conditions if c.metric == metric)
        why = ""
    return f"conditions {shown} can never hold together{why}"


def _cap_problem(rule: Rule, own: float | None, deployment: float) -> str | None:
    cap = deployment if own is None else min(own, deployment)
    if abs(rule.adjust_percent) <= cap:
        return None
    if own is not None and own <= deployment:
        source = "the document's own caps.max_change_percent"
    else:
        source = f"the largest permitted change: {SETTING}, which a document cannot raise"
    return f"adjustment {rule.adjust_percent:+g}% exceeds the cap of {cap:g}%, {source}"


def _rule_problem(rule: Rule, own: float | None, deployment: float) -> str | None:
    problem = _cap_problem(rule, own, deployment)
    for index, condition in enumerate(rule.conditions, start=1):
        problem = problem or _condition_problem(index, condition)
    return problem or _together_problem(rule)


def _conflict(rules: RuleSet) -> str | None:
    for i, a in enumerate(rules.rules):
        for b in rules.rules[i + 1 :]:
            if a.adjust_percent == b.adjust_percent:
                continue
            both = overlap(a, b)
            if both is not None:
                order = ", ".join(f'"{r.name}"' for r in rules.rules)
                return (
                    f"rules {a.name} and {b.name} can both match (e.g. {_shown(both)}) with "
                    f"different changes ({a.adjust_percent:+g}% and {b.adjust_percent:+g}%); "
                    f"make their conditions exclusive, or state which applies first with "
                    f'"precedence": [{order}] in the order you mean'
                )
    return None


def first_problem(rules: RuleSet, max_change_percent: float) -> str | None:
    """Why ``rules`` does not mean one thing under the deployment's largest permitted
    change ``max_change_percent``, or None when it does (see the module)."""
    own = rules.caps.max_change_percent
    for rule in rules.rules:
        problem = _rule_problem(rule, own, max_change_percent)
        if problem is not None:
            return f"rule {rule.name}: {problem}"
    if own is not None and own > max_change_percent:
        return (
            f"caps.max_change_percent: {own:g}% is above the largest permitted change, "
            f"{max_change_percent:g}% ({SETTING}, a deployment setting); a document may "
            "lower it, never raise it"
        )
    return None if rules.precedence is not None else _conflict(rules)
