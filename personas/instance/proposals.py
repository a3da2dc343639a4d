"""What the solver returns: proposals with cost and trade-off, or an explained infeasibility."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from personas.instance.profiles import InstancePersona
from personas.instance.requirements import Constraint, Pins


class Proposal(BaseModel):
    """One configuration offered to the requester."""

    model_config = ConfigDict(frozen=True)

    proposal_id: str
    label: str = Field(description="cheapest, balanced, price_performance or counter_offer")
    instance_type: str
    family: str = ""
    region: str
    vcpu: int
    memory_gib: float
    network_gbps: float
    storage: str
    raid: str
    storage_gb: int
    iops: int
    tenancy: str
    public_ingress: bool
    replicas: int
    hourly: float
    monthly: float = Field(description="the hourly cost over a 730-hour month")
    zones: int | None = Field(default=None, description="1: one zone; N: spread over N")
    controls: tuple[str, ...] = Field(
        default=(), description="provider controls it must run with, and the section asking"
    )
    headroom_pct: dict[str, float]
    trade_off: str


class Relaxation(BaseModel):
    """What dropping one conflicting requirement would allow."""

    model_config = ConfigDict(frozen=True)

    requirement: str
    reason: str
    cheapest_hourly: float | None = Field(description="None when still infeasible")
    note: str


class Infeasibility(BaseModel):
    """Why nothing is feasible: a minimal conflicting set and the cost of relaxing each."""

    model_config = ConfigDict(frozen=True)

    conflict: tuple[str, ...]
    relaxations: tuple[Relaxation, ...]
    message: str


class SolveRequest(BaseModel):
    """A persona, the requester's constraints and pins, and what to exclude this round."""

    model_config = ConfigDict(frozen=True)

    persona: InstancePersona
    constraints: tuple[Constraint, ...] = ()
    pins: Pins = Pins()
    dropped: tuple[str, ...] = ()
    k: int = Field(default=3, ge=1, le=5)
    round: int = Field(default=1, ge=1)
    headroom: float = Field(default=0.2, ge=0, le=2)
    time_limit_s: float = Field(default=5.0, gt=0)
    closest_hourly: float | None = Field(
        default=None, gt=0, description="a counter-offer: first the configuration nearest this"
    )
    seed: int = 42
    record_as: str | None = Field(default=None, description="store the result under this id")


class SolveResult(BaseModel):
    """The proposals of one round (best first), or why there are none."""

    model_config = ConfigDict(frozen=True)

    proposals: tuple[Proposal, ...] = ()
    infeasibility: Infeasibility | None = None
    requirements: tuple[str, ...] = ()
    solve_ms: float = 0.0
    details_ref: str | None = None
