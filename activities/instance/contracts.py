"""Inputs and outputs of the instance activities, shared with the negotiation workflow."""

from __future__ import annotations

from pydantic import BaseModel, Field

from personas.instance.catalog import Vocabulary
from personas.instance.evolution import EvolutionProposal, Utilisation
from personas.instance.profiles import InstancePersona
from personas.instance.proposals import Proposal
from personas.instance.workload import WorkloadSpec

ANALYZE = "instance_analyze"
SAVE_PERSONA = "instance_save_persona"
SOLVE = "instance_solve"
PROVISION = "instance_provision"
DEPROVISION = "instance_deprovision"
OBSERVE = "instance_observe"
EVOLVE = "instance_evolve"


class AnalyzeRequest(BaseModel):
    """Build a persona from a base persona, a workload or text, and overrides."""

    name: str
    base: str | None = None
    workload: WorkloadSpec | None = None
    text: str | None = None
    overrides: dict[str, object] = Field(default_factory=dict)


class AnalyzeResult(BaseModel):
    """The persona to negotiate for and the analyzer's measured error."""

    persona: InstancePersona
    spec: WorkloadSpec | None
    heldout_mape_pct: float | None
    vocabulary: Vocabulary | None = Field(default=None, description="the catalog's names")


class SavePersonaRequest(BaseModel):
    """Store the persona as version 1 of a persona of kind ``instance`` (idempotent)."""

    persona_id: str
    entity_id: str
    persona: InstancePersona
    created_by: str
    negotiation_id: str


class SavedPersona(BaseModel):
    """Where the persona is stored."""

    persona_id: str
    version: int


class ProvisionRequest(BaseModel):
    """Provision an agreed proposal; ``key`` makes it idempotent."""

    key: str
    provider: str
    proposal: Proposal
    persona_id: str


class InstanceRef(BaseModel):
    """An instance by idempotency key and provider."""

    key: str
    provider: str


class EvolveRequest(BaseModel):
    """Compare use with the prediction; propose a new version if they diverge."""

    persona_id: str
    persona: InstancePersona
    used: Utilisation
    threshold: float
    negotiation_id: str


class EvolveResult(BaseModel):
    """The proposed new version, or None when use matched the prediction."""

    proposal: EvolutionProposal | None = None
