"""What a negotiation shows: its status, rounds, agreement, instance and evolution."""

from __future__ import annotations

from pydantic import BaseModel, Field

from personas.instance.evolution import EvolutionProposal
from personas.instance.instances import ProvisionedInstance
from personas.instance.negotiation import Round, Terms
from personas.instance.proposals import Proposal


class NegotiationView(BaseModel):
    """A negotiation's state, queryable at any time and returned when it ends."""

    negotiation_id: str
    status: str
    reason: str = ""
    persona_id: str | None = None
    persona_version: int | None = None
    round: int = 0
    max_rounds: int
    rounds: list[Round]
    terms: Terms
    agreed: Proposal | None = None
    instance: ProvisionedInstance | None = None
    evolution: EvolutionProposal | None = None
    invalid_answers: list[str] = Field(default=[], description="the latest refused signals")
    invalid_count: int = Field(default=0, description="refused signals in all")
    heldout_mape_pct: float | None = None

    @property
    def proposals(self) -> tuple[Proposal, ...]:
        """The current round's proposals."""
        return self.rounds[-1].proposals if self.rounds else ()
