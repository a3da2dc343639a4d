"""The fleet persona: probabilistic weights per attribute, an optimum, triggers, provenance."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from personas.bounds import PRINTABLE, Keyword, Label
from personas.fleet.config import ATTRIBUTES, DOMAIN, FleetConfig, attribute_distance
from personas.fleet.context import FleetContext, as_context
from personas.fleet.objective import Weights

MAX_ATTRIBUTES = 32
"""Attributes (and values of each) a persona may weigh."""


class Guard(BaseModel):
    """Guard metrics: a change that breaks one of these is rolled back."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    max_error_rate: float = Field(default=0.05, ge=0, le=1)
    max_p95_ms: float = Field(default=1000.0, gt=0)
    max_objective_drop: float = Field(default=0.05, ge=0, le=1)


class FleetPersona(BaseModel):
    """A learned, versioned description of how a fleet should be configured."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    fleet_id: str = Field(min_length=1, max_length=80, pattern=PRINTABLE)
    version: int = Field(default=1, ge=1, le=10**9)
    created_at: datetime
    author: str = Field(min_length=1, max_length=80, pattern=PRINTABLE)
    input_sources: list[Label] = Field(default_factory=list, max_length=20)
    intents: list[Keyword] = Field(default_factory=list, max_length=10)
    context: FleetContext = Field(
        default_factory=FleetContext, description="the context it was learned for"
    )
    weights: Weights = Field(default_factory=Weights)
    attribute_weights: dict[
        Keyword, Annotated[dict[Keyword, float], Field(max_length=MAX_ATTRIBUTES)]
    ] = Field(max_length=MAX_ATTRIBUTES)
    optimum: FleetConfig
    confidence: float = Field(ge=0, le=1)
    deviation_trigger: float = Field(default=0.2, ge=0, le=1)
    guard: Guard = Field(default_factory=Guard)
    expected_objective: float = Field(default=0.0, ge=-1e12, le=1e12)

    @field_validator("context", mode="before")
    @classmethod
    def _context(cls, v: Any) -> Any:
        """Older personas name only a traffic pattern."""
        return as_context(v) if isinstance(v, str) else v

    @field_validator("attribute_weights")
    @classmethod
    def _known(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for name, dist in v.items():
            if name not in DOMAIN:
                raise ValueError(f"unknown attribute {name!r}")
            allowed = {str(x) for x in DOMAIN[name]}
            for value, p in dist.items():
                if value not in allowed:
                    raise ValueError(f"{name}={value!r} out of range; allowed {sorted(allowed)}")
                if not 0.0 <= p <= 1.0:
                    raise ValueError(f"probability of {name}={value} must be in [0, 1]")
        return v

    @model_validator(mode="after")
    def _complete(self) -> FleetPersona:
        missing = [a for a in ATTRIBUTES if a not in self.attribute_weights]
        if missing:
            raise ValueError(f"attribute weights missing for {missing}")
        return self

    def importance(self, name: str) -> float:
        """How sure the persona is of its optimal value of ``name`` (its probability)."""
        return self.attribute_weights[name].get(str(getattr(self.optimum, name)), 0.0)


def deviation(current: FleetConfig, persona: FleetPersona) -> float:
    """Configuration deviation score in [0, 1]: distance to the optimum, weighted by certainty."""
    weights = {a: max(persona.importance(a), 1e-3) for a in ATTRIBUTES}
    total = sum(weights.values())
    return (
        sum(
            weights[a] * attribute_distance(a, getattr(current, a), getattr(persona.optimum, a))
            for a in ATTRIBUTES
        )
        / total
    )


def summary(persona: FleetPersona) -> dict[str, Any]:
    """A short JSON-able view of a persona."""
    return {
        "fleet_id": persona.fleet_id,
        "version": persona.version,
        "optimum": persona.optimum.model_dump(),
        "confidence": round(persona.confidence, 3),
        "context": persona.context.model_dump(),
        "author": persona.author,
        "created_at": persona.created_at.isoformat(),
        "sources": persona.input_sources,
    }
