"""Performance metrics computed from recorded outcomes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field


class PerformanceOutcome(BaseModel):
    """One recorded outcome: resolved or not, accurate or not (if judged), other metrics."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resolved: bool
    accurate: bool | None = None
    extra: dict[str, float] = Field(default_factory=dict)


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
