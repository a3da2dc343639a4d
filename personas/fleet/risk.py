"""Risk tolerance: how large and how frequent a change may be, and the guard check."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from personas.fleet.config import ATTRIBUTES, DOMAIN, FleetConfig
from personas.fleet.objective import Metrics, Weights, score
from personas.fleet.persona import FleetPersona, Guard


class RiskPolicy(BaseModel):
    """Bounds derived from a risk tolerance in [0, 1]."""

    model_config = ConfigDict(frozen=True)

    tolerance: float = Field(ge=0, le=1)
    max_attributes: int
    max_ordinal_steps: int
    cooldown_s: float
    stabilisation_s: float


def policy(tolerance: float) -> RiskPolicy:
    """The bounds for a tolerance: 0 is one small change every 10 minutes; 1 is anything/min."""
    if not 0.0 <= tolerance <= 1.0:
        raise ValueError(f"risk tolerance must be in [0, 1], got {tolerance}")
    return RiskPolicy(
        tolerance=tolerance,
        max_attributes=1 + int(tolerance * 3),
        max_ordinal_steps=1 if tolerance < 0.5 else 3,
        cooldown_s=60.0 + (1.0 - tolerance) * 540.0,
        stabilisation_s=30.0 + (1.0 - tolerance) * 270.0,
    )


def bounded_step(current: FleetConfig, persona: FleetPersona, p: RiskPolicy) -> FleetConfig:
    """The next configuration toward the persona's optimum within the policy's magnitude."""
    target = persona.optimum
    diffs = [a for a in ATTRIBUTES if getattr(current, a) != getattr(target, a)]
    diffs.sort(key=lambda a: (-persona.importance(a), ATTRIBUTES.index(a)))
    changes: dict[str, object] = {}
    for a in diffs[: p.max_attributes]:
        want = getattr(target, a)
        if a in ("cpu_share", "replicas"):
            values = DOMAIN[a]
            i, j = values.index(getattr(current, a)), values.index(want)
            step = max(-p.max_ordinal_steps, min(p.max_ordinal_steps, j - i))
            want = values[i + step]
        changes[a] = want
    return current.model_copy(update=changes)


def guard_check(
    before: Metrics, after: Metrics, weights: Weights, guard: Guard
) -> tuple[bool, str]:
    """Whether a change keeps the guard metrics, and why not."""
    if after.error_rate > guard.max_error_rate:
        return False, f"error rate {after.error_rate:.3f} > {guard.max_error_rate}"
    if after.p95_ms > guard.max_p95_ms:
        return False, f"p95 {after.p95_ms:.0f} ms > {guard.max_p95_ms:.0f} ms"
    b, a = score(before, weights), score(after, weights)
    if a < b - guard.max_objective_drop * max(abs(b), 1e-6):
        return False, f"objective fell from {b:.3f} to {a:.3f}"
    return True, "ok"
