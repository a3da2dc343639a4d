"""Room coordination: which of the personas that want to speak are granted the floor.

Bids are ranked by relevance plus a credit for every floor a persona bid on and was not
granted since its last grant (late bids count too, see :mod:`personas.coordination_floor`),
so a persona that keeps losing ties (or narrowly loses) is granted eventually.

The guarantee is stronger than "eventually": a persona whose credit reached ``overdue_at``
(the room passes its number of members, divided by the responders) is *overdue* and goes
ahead of every bid that is not overdue, overdue bidders in the order of their credit. A
credit grows by at most one per floor, so a persona overdue with credit ``c`` is only ever
passed by personas whose credit is at least ``c`` now, each of them at most once before it;
with one responder and ``n`` members it is granted within ``n - 1`` floors of becoming
overdue, within ``2n - 1`` floors of its last grant. Remaining ties fall to a hash of the
message and persona, which is fair across messages and deterministic for replay.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field

from personas.bounds import Identifier, Ref
from personas.items import BP
from personas.messages import BIDS_MAX


class Bid(BaseModel):
    """A persona's wish to respond to a room message, with its thought stored by reference.

    ``next_free_ms`` is the member's declared pace: when (epoch ms) it expects to take its
    next item. The room waits for members by it (:func:`personas.coordination_floor.
    floor_deadline_ms`); a bid without it is paced by what the room observed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: Identifier
    persona_id: Identifier
    score_bp: int = Field(ge=0, le=BP)
    thought_ref: Ref | None = None
    next_free_ms: int | None = Field(default=None, ge=0)


class BidBatch(BaseModel):
    """The bids a member owes one room, sent as one :data:`personas.messages.BIDS` signal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bids: list[Bid] = Field(min_length=1, max_length=BIDS_MAX)


class FloorPolicy(BaseModel):
    """How many personas may respond to a message and how long bids are collected.

    ``decision_deadline_s`` is the slack a floor gives a member once it is free (delivery
    finished and its declared pace reached); ``max_decision_s`` bounds every floor's wait
    after its delivery, whatever members declare. ``backlog`` is how many undelivered posts
    the room holds; beyond it the lowest-ranked post goes to the overflow record.
    ``chatter_window`` is how many AI-to-AI posts may be undecided at once: the room's flow
    control. Each undecided post is an item in every member's inbox, and members answer at
    their cadence, so a flood beyond the window waits (and sheds) in the room's one backlog
    instead of in every member's inbox, and the members' worker keeps its time for persons
    and mentions, which the window never holds back.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    responders: int = Field(default=1, ge=1, le=100)
    decision_deadline_s: float = Field(default=2.0, gt=0, le=3600)
    max_decision_s: float = Field(default=30.0, gt=0, le=3600)
    credit_bp: int = Field(default=1_000, ge=0, le=BP)
    backlog: int = Field(default=200, ge=1, le=10_000)
    chatter_window: int = Field(default=10, ge=1, le=1_000)


def _tiebreak(message_id: str, persona_id: str) -> str:
    return hashlib.sha256(f"{message_id}/{persona_id}".encode()).hexdigest()


def overdue_after(members: int, responders: int) -> int:
    """The credit from which a member is overdue: one full round of the room's floors."""
    return max(1, -(-members // responders))


def grant_floor(
    bids: list[Bid],
    credits: dict[str, int],
    policy: FloorPolicy,
    overdue_at: int | None = None,
) -> tuple[list[str], dict[str, int]]:
    """The personas granted the floor, and the credits after this decision.

    With ``overdue_at``, bidders whose credit reached it go first (most credit first).
    """

    def rank(b: Bid) -> tuple[int, int, int, str]:
        credit = credits.get(b.persona_id, 0)
        overdue = overdue_at is not None and credit >= overdue_at
        return (
            -credit if overdue else 1,
            -(b.score_bp + credit * policy.credit_bp),
            -credit,
            _tiebreak(b.message_id, b.persona_id),
        )

    ranked = sorted(bids, key=rank)
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
