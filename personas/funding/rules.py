"""Funding rules as validated data documents, and their evaluation.

A rules document lists rules; each rule has conditions on performance metrics combined
with ``all`` or ``any`` and an adjustment percentage. The matching rule adjusts the
persona's allocation, which is then clamped by the document's caps.

A document is stored only when it means one thing (see :mod:`personas.funding.rules_check`):
no two rules with different adjustments can match the same metrics unless the document
states a ``precedence`` (every rule, in the order they are tried); it names only metrics
the system records, with thresholds in their ranges, and conditions that can hold. The
largest permitted change is a deployment setting (``PERSONAS_FUNDING_MAX_CHANGE_PERCENT``):
a document may lower it with ``caps.max_change_percent``, never raise it.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from personas.errors import first_error
from personas.funding.intervals import Comparison
from personas.funding.rules_check import first_problem
from personas.models import IDENTIFIER

DEFAULT_MAX_CHANGE_PERCENT = 50.0
"""The largest change one rule may make, in percent, unless the deployment sets another."""


class RulesError(ValueError):
    """A rules document that does not validate; the message says why."""


_OPS: dict[Comparison, Callable[[float, float], bool]] = {
    Comparison.GT: operator.gt,
    Comparison.GE: operator.ge,
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
}


class Condition(BaseModel):
    """``metric <op> threshold``; a metric that was not reported never matches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str = Field(pattern=IDENTIFIER)
    op: Comparison
    threshold: float = Field(allow_inf_nan=False)

    def holds(self, metrics: Mapping[str, float]) -> bool:
        """Whether the condition holds for ``metrics``."""
        value = metrics.get(self.metric)
        return value is not None and _OPS[self.op](value, self.threshold)

    def shown(self) -> str:
        """The condition as text, e.g. ``accuracy > 0.9``."""
        return f"{self.metric} {self.op.value} {self.threshold:g}"


class Rule(BaseModel):
    """Conditions (all or any of them) and the allocation change, in percent, they cause."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=IDENTIFIER)
    match: str = Field(default="all", pattern=r"^(all|any)$")
    conditions: tuple[Condition, ...] = Field(min_length=1, max_length=32)
    adjust_percent: float = Field(ge=-100, le=1000, allow_inf_nan=False)

    def matches(self, metrics: Mapping[str, float]) -> bool:
        """Whether this rule applies to ``metrics``."""
        results = (c.holds(metrics) for c in self.conditions)
        return all(results) if self.match == "all" else any(results)


class Caps(BaseModel):
    """Bounds on the allocation (micro-units per period) and, optionally, a cap on one
    change in percent stricter than the deployment's (None: the deployment's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_allocation: int = Field(default=0, ge=0)
    max_allocation: int = Field(default=10**15, ge=0)
    max_change_percent: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Caps:
        if self.min_allocation > self.max_allocation:
            raise ValueError("caps: min_allocation is greater than max_allocation")
        return self


class RuleSet(BaseModel):
    """A versionable funding rules document.

    ``precedence``, when stated, names every rule once, in the order they are tried: the
    first that matches applies. Without it rules are tried in document order, and (for a
    document stored through :func:`parse_rules`) at most one adjustment can match.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(default=1, ge=1)
    rules: tuple[Rule, ...] = Field(max_length=64)
    caps: Caps = Caps()
    precedence: tuple[str, ...] | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _unique_names(self) -> RuleSet:
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate rule names: {', '.join(dupes)}")
        if self.precedence is not None:
            listed = list(self.precedence)
            twice = sorted({n for n in listed if listed.count(n) > 1})
            unknown = [n for n in listed if n not in names]
            missing = [n for n in names if n not in listed]
            if twice:
                raise ValueError(f"precedence lists {', '.join(twice)} more than once")
            if unknown:
                raise ValueError(f"precedence names unknown rules: {', '.join(unknown)}")
            if missing:
                raise ValueError(f"precedence must list every rule; missing: {', '.join(missing)}")
        return self

    def ordered(self) -> tuple[Rule, ...]:
        """The rules in the order they are tried."""
        if self.precedence is None:
            return self.rules
        by_name = {r.name: r for r in self.rules}
        return tuple(by_name[name] for name in self.precedence)

    def capped(self, max_change_percent: float) -> RuleSet:
        """This document with the cap in force made explicit: its own cap, never above the
        deployment's ``max_change_percent``."""
        own = self.caps.max_change_percent
        cap = max_change_percent if own is None else min(own, max_change_percent)
        return self.model_copy(
            update={"caps": self.caps.model_copy(update={"max_change_percent": cap})}
        )


DEFAULT_RULES = RuleSet(
    rules=(
        Rule(
            name="reward",
            match="all",
            conditions=(
                Condition(metric="resolution_rate", op=Comparison.GT, threshold=0.8),
                Condition(metric="accuracy", op=Comparison.GT, threshold=0.9),
            ),
            adjust_percent=10,
        ),
        Rule(
            name="penalise",
            match="any",
            conditions=(
                Condition(metric="resolution_rate", op=Comparison.LT, threshold=0.5),
                Condition(metric="accuracy", op=Comparison.LT, threshold=0.7),
            ),
            adjust_percent=-20,
        ),
    )
)


def parse_rules(
    document: str | Mapping[str, Any], max_change_percent: float = DEFAULT_MAX_CHANGE_PERCENT
) -> RuleSet:
    """Validate a rules document (JSON text or a mapping) under the deployment's largest
    permitted change; :class:`RulesError` names the rule and the reason when it is refused."""
    try:
        data = json.loads(document) if isinstance(document, str) else dict(document)
    except json.JSONDecodeError as err:
        raise RulesError(f"rules document is not JSON: {err.msg} at line {err.lineno}") from None
    try:
        rules = RuleSet.model_validate(data)
    except ValidationError as err:
        raise RulesError(f"invalid rules document: {first_error(err, 'document')}") from None
    problem = first_problem(rules, max_change_percent)
    if problem is not None:
        raise RulesError(f"invalid rules document: {problem}")
    return rules


class Adjustment(BaseModel):
    """What the rules did to an allocation."""

    model_config = ConfigDict(frozen=True)

    rule: str | None
    percent: float
    before: int
    after: int


def apply_rules(rules: RuleSet, metrics: Mapping[str, float], allocation: int) -> Adjustment:
    """Apply the first matching rule (see :meth:`RuleSet.ordered`) to ``allocation``
    (micro-units), its change bounded by the cap, and clamp to the caps. The cap is the
    document's (made explicit by :meth:`RuleSet.capped` where rules are loaded), else
    :data:`DEFAULT_MAX_CHANGE_PERCENT`."""
    cap = rules.caps.max_change_percent
    cap = DEFAULT_MAX_CHANGE_PERCENT if cap is None else cap
    for rule in rules.ordered():
        if rule.matches(metrics):
            pct = max(-cap, min(rule.adjust_percent, cap))
            after = allocation + (allocation * round(pct * 100)) // 10_000
            after = max(rules.caps.min_allocation, min(after, rules.caps.max_allocation))
            return Adjustment(rule=rule.name, percent=pct, before=allocation, after=after)
    clamped = max(rules.caps.min_allocation, min(allocation, rules.caps.max_allocation))
    return Adjustment(rule=None, percent=0.0, before=allocation, after=clamped)
