"""Funding rules as validated data documents, and their evaluation.

A rules document lists rules; each rule has conditions on performance metrics combined
with ``all`` or ``any`` and an adjustment percentage. The first matching rule (in order)
adjusts the persona's allocation, which is then clamped by the document's caps.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from personas.errors import first_error
from personas.models import IDENTIFIER


class RulesError(ValueError):
    """A rules document that does not validate; the message says why."""


class Comparison(StrEnum):
    """How a metric is compared with a threshold."""

    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="


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
    """Bounds on the allocation (micro-units per period) and on one change, in percent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_allocation: int = Field(default=0, ge=0)
    max_allocation: int = Field(default=10**15, ge=0)
    max_change_percent: float = Field(default=50, gt=0, le=1000, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Caps:
        if self.min_allocation > self.max_allocation:
            raise ValueError("caps: min_allocation is greater than max_allocation")
        return self


class RuleSet(BaseModel):
    """A versionable funding rules document."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(default=1, ge=1)
    rules: tuple[Rule, ...] = Field(max_length=64)
    caps: Caps = Caps()

    @model_validator(mode="after")
    def _unique_names(self) -> RuleSet:
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate rule names: {', '.join(dupes)}")
        for rule in self.rules:
            if abs(rule.adjust_percent) > self.caps.max_change_percent:
                raise ValueError(
                    f"rule {rule.name}: adjustment {rule.adjust_percent}% exceeds the cap "
                    f"of {self.caps.max_change_percent}%"
                )
        return self


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


def parse_rules(document: str | Mapping[str, Any]) -> RuleSet:
    """Validate a rules document (JSON text or a mapping); :class:`RulesError` says why not."""
    try:
        data = json.loads(document) if isinstance(document, str) else dict(document)
    except json.JSONDecodeError as err:
        raise RulesError(f"rules document is not JSON: {err.msg} at line {err.lineno}") from None
    try:
        return RuleSet.model_validate(data)
    except ValidationError as err:
        raise RulesError(f"invalid rules document: {first_error(err, 'document')}") from None


class Adjustment(BaseModel):
    """What the rules did to an allocation."""

    model_config = ConfigDict(frozen=True)

    rule: str | None
    percent: float
    before: int
    after: int


def apply_rules(rules: RuleSet, metrics: Mapping[str, float], allocation: int) -> Adjustment:
    """Apply the first matching rule to ``allocation`` (micro-units) and clamp to the caps."""
    for rule in rules.rules:
        if rule.matches(metrics):
            pct = max(-rules.caps.max_change_percent, min(rule.adjust_percent, 1000.0))
            after = allocation + (allocation * round(pct * 100)) // 10_000
            after = max(rules.caps.min_allocation, min(after, rules.caps.max_allocation))
            return Adjustment(rule=rule.name, percent=pct, before=allocation, after=after)
    clamped = max(rules.caps.min_allocation, min(allocation, rules.caps.max_allocation))
    return Adjustment(rule=None, percent=0.0, before=allocation, after=clamped)
