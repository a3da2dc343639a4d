"""Metrics, the documented traffic/business model, and objective weights compiled from intents.

Traffic model (documented, used by the testbed report and the simulator alike): each request
is a visit from a mobile or desktop user. A visit converts with probability
``base_conversion[device] * max(0, 1 - latency_ms / patience_ms[device])`` (mobile users are
less patient), an errored visit never converts, and each conversion earns
``order_value[device]``. The cost of the fleet is ``replicas * cpu_share`` CPU units.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

BASE_CONVERSION = {"mobile": 0.04, "desktop": 0.06}
PATIENCE_MS = {"mobile": 250.0, "desktop": 600.0}
ORDER_VALUE = {"mobile": 40.0, "desktop": 60.0}


class Metrics(BaseModel):
    """What one observation of the fleet reports."""

    model_config = ConfigDict(frozen=True)

    p50_ms: float = Field(ge=0)
    p95_ms: float = Field(ge=0)
    p99_ms: float = Field(ge=0)
    throughput_rps: float = Field(ge=0)
    error_rate: float = Field(ge=0, le=1)
    mobile_share: float = Field(ge=0, le=1)
    conversion: float = Field(ge=0, le=1)
    revenue_per_visit: float = Field(ge=0)
    cost_units: float = Field(ge=0)
    requests: int = Field(default=0, ge=0)


def conversion_of(latency_ms: float, device: str) -> float:
    """Probability that a successful visit of ``device`` with that latency converts."""
    return BASE_CONVERSION[device] * max(0.0, 1.0 - latency_ms / PATIENCE_MS[device])


def business(latencies_ms: list[tuple[float, str, bool]]) -> tuple[float, float]:
    """Expected conversion rate and revenue per visit of (latency, device, ok) visits."""
    if not latencies_ms:
        return 0.0, 0.0
    conv = rev = 0.0
    for lat, device, ok in latencies_ms:
        c = conversion_of(lat, device) if ok else 0.0
        conv += c
        rev += c * ORDER_VALUE[device]
    n = len(latencies_ms)
    return conv / n, rev / n


class Weights(BaseModel):
    """Objective weights: revenue per visit, minus penalties on tail latency, errors, cost."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    revenue: float = Field(default=1.0, ge=0)
    latency: float = Field(default=0.002, ge=0)
    errors: float = Field(default=5.0, ge=0)
    cost: float = Field(default=0.05, ge=0)
    mobile_focus: float = Field(default=0.0, ge=0, le=1)


INTENTS: dict[str, dict[str, float]] = {
    "optimise for mobile users": {"mobile_focus": 0.8, "latency": 0.004},
    "prepare for a traffic surge": {"errors": 20.0, "cost": 0.02},
    "cut costs": {"cost": 0.2},
    "minimise latency": {"latency": 0.006},
}
ALIASES = {"optimize": "optimise", "minimize": "minimise"}


class UnknownIntent(ValueError):
    """An intent the compiler does not understand."""


def compile_weights(intents: list[str], base: Weights | None = None) -> Weights:
    """Objective weights from user intents (later intents override earlier ones)."""
    fields = (base or Weights()).model_dump()
    for raw in intents:
        text = raw.strip().lower()
        for a, b in ALIASES.items():
            text = text.replace(a, b)
        if text not in INTENTS:
            raise UnknownIntent(f"unknown intent {raw!r}; known: {sorted(INTENTS)}")
        fields.update(INTENTS[text])
    return Weights(**fields)


def score(m: Metrics, w: Weights) -> float:
    """The objective of one observation (higher is better)."""
    revenue = m.revenue_per_visit * (1.0 + w.mobile_focus * m.mobile_share)
    return (
        w.revenue * revenue
        - w.latency * m.p95_ms * (1.0 + w.mobile_focus)
        - w.errors * m.error_rate
        - w.cost * m.cost_units
    )
