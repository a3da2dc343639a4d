"""Room coordination: which of the personas that want to speak are granted the floor.

Bids are ranked by relevance plus a credit for every bid a persona lost in a row, so a
persona that keeps losing ties (or narrowly loses) is granted eventually: nobody is silenced
for good. Remaining ties fall to a hash of the message and persona, which is fair across
messages and deterministic for replay.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field

from personas.bounds import Identifier, Ref
from personas.items import BP


class Bid(BaseModel):
    """A persona's wish to respond to a room message, with its thought stored by reference."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: Identifier
    persona_id: Identifier
    score_bp: int = Field(ge=0, le=BP)
    thought_ref: Ref | None = None


class FloorPolicy(BaseModel):
    """How many personas may respond to a message and how long bids are collected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    responders: int = Field(default=1, ge=1, le=100)
    decision_deadline_s: float = Field(default=2.0, gt=0, le=3600)
    credit_bp: int = Field(default=1_000, ge=0, le=BP)


def _tiebreak(message_id: str, persona_id: str) -> str:
    return hashlib.sha256(f"{message_id}/{persona_id}".encode()).hexdigest()


def grant_floor(
    bids: list[Bid], credits: dict[str, int], policy: FloorPolicy
) -> tuple[list[str], dict[str, int]]:
    """The personas granted the floor, and the credits after this decision."""
    ranked = sorted(
        bids,
        key=lambda b: (
            -(b.score_bp + credits.get(b.persona_id, 0) * policy.credit_bp),
            -credits.get(b.persona_id, 0),
            _tiebreak(b.message_id, b.persona_id),
        ),
    )
    granted = [b.persona_id for b in ranked[: policy.responders]]
    new_credits = dict(credits)
    for bid in bids:
        new_credits[bid.persona_id] = (
            0 if bid.persona_id in granted else credits.get(bid.persona_id, 0) + 1
        )
    return granted, new_credits


def jain_index(service: list[float]) -> float:
    """Jain's fairness index: 1.0 when everyone gets the same, 1/n when one gets it all."""
    squares = sum(s * s for s in service)
    if not service or squares == 0:
        return 1.0
    total = sum(service)
    return total * total / (len(service) * squares)
