"""Activity names and payloads shared by the fleet workflows and activities (no I/O)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from personas.bounds import LABEL_CHARS, PRINTABLE
from personas.fleet.config import FleetConfig
from personas.fleet.context import FleetContext
from personas.fleet.persona import FleetPersona
from personas.fleet.simulator import Scenario

OBSERVE = "fleet_observe"
APPLY = "fleet_apply"
SAVE_PERSONA = "fleet_save_persona"
DEPLOY_VARIANT = "fleet_deploy_variant"
MEASURE_SPLIT = "fleet_measure_split"
RETIRE_VARIANTS = "fleet_retire_variants"
PROPOSE = "fleet_propose_candidates"
RELEARN = "fleet_relearn"


class ExecutorSpec(BaseModel):
    """How a change is applied: reconfigure the fleet, run a script, or call a loopback URL."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["fleet", "script", "url"] = "fleet"
    command: list[Annotated[str, Field(max_length=LABEL_CHARS, pattern=PRINTABLE)]] = Field(
        default_factory=list, max_length=20
    )
    url: str = Field(default="", max_length=2_048, pattern=PRINTABLE)
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


class DeployRequest(BaseModel):
    """Deploy one A/B variation on the driver's fleet (its own testbed, or simulated)."""

    ab_id: str
    variant: str
    config: FleetConfig


class SplitRequest(BaseModel):
    """One A/B round: one traffic stream split between the deployed variations."""

    ab_id: str
    split: dict[str, float] = Field(min_length=1)
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
    """One observed objective of a configuration, in the context it was observed in."""

    config: FleetConfig
    objective: float
    context: FleetContext = Field(default_factory=FleetContext)


class RelearnRequest(BaseModel):
    """Retrain the persona for the scenario's context: simulator warm start plus the fleet's
    own observations (in whatever contexts they were made)."""

    persona: FleetPersona
    scenario: Scenario
    observations: list[Observation] = Field(max_length=500)
    rounds: int = Field(default=100, ge=0, le=2000)
    seed: int
