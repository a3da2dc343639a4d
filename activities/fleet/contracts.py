"""Activity names and payloads shared by the fleet workflows and activities (no I/O)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from personas.fleet.config import FleetConfig
from personas.fleet.persona import FleetPersona
from personas.fleet.simulator import Scenario

OBSERVE = "fleet_observe"
APPLY = "fleet_apply"
SAVE_PERSONA = "fleet_save_persona"
MEASURE_VARIANT = "fleet_measure_variant"
PROPOSE = "fleet_propose_candidates"
RELEARN = "fleet_relearn"


class ExecutorSpec(BaseModel):
    """How a change is applied: reconfigure the fleet, run a script, or call a loopback URL."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["fleet", "script", "url"] = "fleet"
    command: list[str] = Field(default_factory=list, max_length=20)
    url: str = ""
    timeout_s: float = Field(default=10.0, gt=0, le=120)


class ObserveRequest(BaseModel):
    """Observe a fleet under a scenario."""

    fleet_id: str
    scenario: Scenario
    seed: int


class ApplyRequest(BaseModel):
    """Apply a configuration through the executors, in order."""

    fleet_id: str
    config: FleetConfig
    executors: list[ExecutorSpec]
    key: str


class SavePersonaRequest(BaseModel):
    """Store a version of the fleet persona."""

    entity_id: str
    persona: FleetPersona


class MeasureRequest(BaseModel):
    """Measure one A/B variation on its share of the traffic."""

    fleet_id: str
    variant: str
    config: FleetConfig
    scenario: Scenario
    visits: int = Field(ge=0)
    seed: int


class ProposeRequest(BaseModel):
    """Ask the genetic algorithm for candidates around seed genomes."""

    seeds: list[FleetConfig] = Field(min_length=1)
    scenario: Scenario
    intents: list[str] = Field(default_factory=list)
    count: int = Field(default=2, ge=1, le=8)
    seed: int


class Observation(BaseModel):
    """One observed objective of a configuration."""

    config: FleetConfig
    objective: float


class RelearnRequest(BaseModel):
    """Retrain the persona: simulator warm start plus the fleet's own observations."""

    persona: FleetPersona
    scenario: Scenario
    observations: list[Observation] = Field(max_length=500)
    rounds: int = Field(default=100, ge=0, le=2000)
    seed: int
