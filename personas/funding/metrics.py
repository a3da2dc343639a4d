"""Performance metrics computed from recorded outcomes, and the metrics the system records.

:data:`METRICS` declares, once, every metric a rules document may name and the range its
values lie in. Every metric but :data:`EVIDENCE` is reported only when there is at least
one outcome (with no outcomes only ``outcomes = 0`` is).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, field_validator


@dataclass(frozen=True)
class MetricSpec:
    """A recorded metric: its values lie in ``[low, high]`` (whole numbers when
    ``integral``); ``reported`` metrics come from outcomes' ``extra``, the others are
    computed from the outcomes themselves."""

    low: float
    high: float
    description: str
    integral: bool = False
    reported: bool = False

    def contains(self, value: float) -> bool:
        """Whether ``value`` is a possible value of the metric."""
        whole = not self.integral or float(value).is_integer()
        return math.isfinite(value) and self.low <= value <= self.high and whole

    def shown(self) -> str:
        """The range as text, e.g. ``[0, 1]`` or ``[0, inf)``."""
        if math.isinf(self.high):
            return f"[{self.low:g}, inf)"
        return f"[{self.low:g}, {self.high:g}]"


EVIDENCE = "outcomes"
"""The metric that is always reported; every other one needs ``outcomes >= 1``."""

METRICS: Mapping[str, MetricSpec] = MappingProxyType(
    {
        EVIDENCE: MetricSpec(0, math.inf, "outcomes recorded in the period", integral=True),
        "resolution_rate": MetricSpec(0, 1, "share of the outcomes that were resolved"),
        "accuracy": MetricSpec(0, 1, "share of the judged outcomes judged accurate"),
        "latency_s": MetricSpec(
            0, math.inf, "mean seconds to an outcome, as reported with it", reported=True
        ),
    }
)


def reported_metrics() -> list[str]:
    """The metrics an outcome may carry in ``extra``."""
    return sorted(name for name, spec in METRICS.items() if spec.reported)


class PerformanceOutcome(BaseModel):
    """One recorded outcome: resolved or not, accurate or not (if judged), and values of
    the reported metrics (see :data:`METRICS`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resolved: bool
    accurate: bool | None = None
    extra: dict[str, float] = Field(default_factory=dict)

    @field_validator("extra")
    @classmethod
    def _known(cls, extra: dict[str, float]) -> dict[str, float]:
        for name, value in extra.items():
            spec = METRICS.get(name)
            if spec is None or not spec.reported:
                known = ", ".join(reported_metrics())
                raise ValueError(f"unknown metric {name!r} (an outcome may report: {known})")
            if not spec.contains(value):
                raise ValueError(f"{name} {value!r} lies outside its range {spec.shown()}")
        return extra


def performance(outcomes: Iterable[PerformanceOutcome]) -> dict[str, float]:
    """``resolution_rate``, ``accuracy``, ``outcomes`` and the mean of every extra metric.

    With no outcomes only ``outcomes = 0`` is reported, so no rule fires on no evidence.
    """
    items = list(outcomes)
    if not items:
        return {"outcomes": 0.0}
    result: dict[str, float] = {
        "outcomes": float(len(items)),
        "resolution_rate": sum(o.resolved for o in items) / len(items),
    }
    judged = [o.accurate for o in items if o.accurate is not None]
    if judged:
        result["accuracy"] = sum(judged) / len(judged)
    sums: dict[str, list[float]] = {}
    for o in items:
        for k, v in o.extra.items():
            sums.setdefault(k, []).append(v)
    for k, values in sorted(sums.items()):
        if k not in result:
            result[k] = sum(values) / len(values)
    return result


def describe(metrics: Mapping[str, float]) -> str:
    """A short line such as ``resolution_rate 0.85, accuracy 0.92``."""
    return ", ".join(f"{k} {v:.2f}" for k, v in sorted(metrics.items())) or "no metrics"
