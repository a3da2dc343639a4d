"""Conditions on metrics as boxes of values, to tell what a rules document can match.

A comparison ``metric <op> threshold`` holds for the float values of one closed interval
(a strict bound moves to the next float), within the metric's declared range; a
conjunction of comparisons holds in a *box*, one interval per metric it names. Two
conjunctions can hold at once exactly when their boxes intersect, and every corner of a
non-empty box is an example of metrics matching both. Metrics are floats, so this is
exact: no float value is missed, and none is claimed that cannot occur.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from personas.funding.metrics import EVIDENCE, METRICS


class Comparison(StrEnum):
    """How a metric is compared with a threshold."""

    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="


@dataclass(frozen=True)
class Interval:
    """The floats ``low <= x <= high``; empty when ``low > high``."""

    low: float
    high: float

    @property
    def empty(self) -> bool:
        """Whether no value lies in the interval."""
        return self.low > self.high

    def __and__(self, other: Interval) -> Interval:
        """The values in both intervals."""
        return Interval(max(self.low, other.low), min(self.high, other.high))


Box = Mapping[str, Interval]
"""Intervals per metric: metrics a box does not name may take any value (or be absent)."""


def comparison(op: Comparison, threshold: float) -> Interval:
    """The floats ``x`` for which ``x <op> threshold`` holds."""
    if op is Comparison.GT:
        return Interval(math.nextafter(threshold, math.inf), math.inf)
    if op is Comparison.GE:
        return Interval(threshold, math.inf)
    if op is Comparison.LT:
        return Interval(-math.inf, math.nextafter(threshold, -math.inf))
    return Interval(-math.inf, threshold)


def _span(metric: str) -> Interval:
    spec = METRICS[metric]
    return Interval(spec.low, spec.high)


def _whole(metric: str, interval: Interval) -> Interval:
    """``interval`` narrowed to whole numbers for an integral metric."""
    if not METRICS[metric].integral or interval.empty:
        return interval
    high = interval.high if math.isinf(interval.high) else float(math.floor(interval.high))
    return Interval(float(math.ceil(interval.low)), high)


def _with_evidence(box: dict[str, Interval]) -> dict[str, Interval]:
    """A box naming a metric other than :data:`EVIDENCE` also needs ``outcomes >= 1``."""
    if any(metric != EVIDENCE for metric in box):
        box[EVIDENCE] = _whole(EVIDENCE, box.get(EVIDENCE, _span(EVIDENCE)) & Interval(1, math.inf))
    return box


def box_of(conditions: Iterable[tuple[str, Comparison, float]]) -> dict[str, Interval]:
    """The box in which every ``(metric, op, threshold)`` holds (known metrics only)."""
    box: dict[str, Interval] = {}
    for metric, op, threshold in conditions:
        interval = box.get(metric, _span(metric)) & comparison(op, threshold)
        box[metric] = _whole(metric, interval)
    return _with_evidence(box)


def intersect(a: Box, b: Box) -> dict[str, Interval]:
    """The box in which both ``a`` and ``b`` hold."""
    box = {m: _whole(m, a.get(m, _span(m)) & b.get(m, _span(m))) for m in {*a, *b}}
    return _with_evidence(box)


def _plain(interval: Interval) -> float:
    """A short decimal in a non-empty interval (its low end when there is none)."""
    for digits in range(7):
        scale = 10**digits
        scaled = interval.low * scale
        if not math.isfinite(scaled):
            break
        value = math.ceil(scaled) / scale
        if interval.low <= value <= interval.high:
            return value
    return interval.low


def example(box: Box) -> dict[str, float] | None:
    """Metric values lying in ``box``, or None when it is empty."""
    if any(interval.empty for interval in box.values()):
        return None
    return {metric: _plain(interval) for metric, interval in sorted(box.items())}


def first_overlap(a: Iterable[Box], b: Iterable[Box]) -> dict[str, float] | None:
    """An example matching some box of ``a`` and some box of ``b`` (each a disjunction),
    or None when none can match both."""
    others = list(b)
    for box in a:
        for other in others:
            found = example(intersect(box, other))
            if found is not None:
                return found
    return None
