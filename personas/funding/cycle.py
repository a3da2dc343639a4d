"""The funding cycle's input, carried state and view (crossing the workflow boundary)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from personas.bounds import Identifier, Label
from personas.funding.money import MAX_MICROS


class CycleConfig(BaseModel):
    """How a persona's funding cycle runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    period_s: float = Field(default=86_400, gt=0, le=366 * 86_400, allow_inf_nan=False)
    threshold_percent: int = Field(default=50, ge=0, le=100)
    pause_event: Identifier = "funds_exhausted"
    resume_event: Identifier = "funds_available"
    max_cycles_per_run: int = Field(default=200, ge=1, le=10_000)
    low_budget_percent: int = Field(default=20, ge=0, le=100)


class CycleSnapshot(BaseModel):
    """A funding cycle's live state: changed in place, carried whole over continue-as-new."""

    cycle: int = 0
    allocation: int = Field(ge=0, le=MAX_MICROS)
    paused: bool = False
    balance: int = 0
    last_cycle_ms: int | None = None
    last_rule: Label | None = None
    adjustments: int = 0
    top_ups: int = 0
    failed_top_ups: int = 0
    pauses: int = 0
    resumes: int = 0
    pending_demand: bool = False
    pending_funds: bool = False


class FundingCycleInput(BaseModel):
    """One persona's funding cycle: its limit, starting allocation and configuration."""

    persona_id: Identifier
    entity_id: Identifier
    funding_limit: int = Field(
        ge=0, le=MAX_MICROS, strict=True, description="micro-units the balance may reach"
    )
    allocation: int = Field(
        ge=0, le=MAX_MICROS, strict=True, description="micro-units topped up to each period"
    )
    config: CycleConfig = CycleConfig()
    snapshot: CycleSnapshot | None = None

    @model_validator(mode="after")
    def _within_limit(self) -> FundingCycleInput:
        if self.allocation > self.funding_limit:
            raise ValueError("allocation exceeds the funding limit")
        return self


class FundingView(BaseModel):
    """What the funding cycle shows: status, balance, allocation and counters."""

    persona_id: str
    status: str
    balance: int
    allocation: int
    funding_limit: int
    cycle: int
    paused: bool
    last_rule: str | None
    adjustments: int
    top_ups: int
    pauses: int
    resumes: int
    rejected: int
