"""Rooms: where personas hear messages and the coordinator decides who responds."""

from __future__ import annotations

from pydantic import BaseModel, Field

from personas.bounds import MAX_IDS, Identifier
from personas.coordination import Bid, FloorPolicy
from personas.coordination_floor import MemberPace, PendingPost
from personas.items import InboxItem

MAX_OPEN_FLOORS = 1_000
"""Room messages whose responders are not decided yet; past it a post is refused, counted."""

MAX_MEMBERS = MAX_IDS
"""The most members a room has."""

RECENT_FLOORS = 100
"""How many decided floors a room remembers, to credit the bids that arrive late."""


class OpenFloor(BaseModel):
    """A room message whose responders are not decided yet.

    ``delivered_ms`` and ``deadline_ms`` are set when the delivery returns; ``starts`` is
    when each member could start on it (its declared pace), to learn its lag. ``chatter``
    marks an AI-to-AI post, counted against the policy's ``chatter_window``.
    """

    message_id: Identifier
    chatter: bool = False
    expected: list[Identifier] = Field(max_length=MAX_IDS)
    delivered_ms: int | None = None
    deadline_ms: int | None = None
    starts: dict[str, int] = Field(default_factory=dict)
    bids: list[Bid] = Field(default_factory=list, max_length=MAX_IDS)

    def answered(self) -> set[str]:
        """Members that bid or passed."""
        return {b.persona_id for b in self.bids}

    def complete(self) -> bool:
        """Delivered, and every expected member has answered."""
        return self.delivered_ms is not None and set(self.expected) <= self.answered()


class ClosedFloor(BaseModel):
    """A decided floor, remembered so a late bid earns its member credit once."""

    message_id: str
    answered: list[str]
    starts: dict[str, int] = Field(default_factory=dict)


class RoomSnapshot(BaseModel):
    """A room's live state: changed in place, carried whole into its next run."""

    members: list[Identifier] = Field(max_length=MAX_IDS)
    open_floors: list[OpenFloor] = Field(default_factory=list)
    backlog: list[PendingPost] = Field(default_factory=list)
    pending_posts: list[InboxItem] = Field(
        default_factory=list, description="posts carried by a run of the older room; adopted"
    )
    posted: int = 0
    credits: dict[str, int] = Field(default_factory=dict)
    grants_total: dict[str, int] = Field(default_factory=dict)
    paces: dict[str, MemberPace] = Field(default_factory=dict)
    names: dict[str, str] = Field(default_factory=dict)
    closed: list[ClosedFloor] = Field(default_factory=list)
    pending_shed: list[PendingPost] = Field(default_factory=list)
    early_bids: list[Bid] = Field(default_factory=list)
    decided: int = 0
    late_bids: int = 0
    late_credited: int = 0
    shed: int = 0
    rejected: int = 0

    def forget_departed(self) -> None:
        """Keep credits and grant counts for current members only (bounded by them)."""
        members = set(self.members)
        self.credits = {k: v for k, v in self.credits.items() if k in members}
        self.grants_total = {k: v for k, v in self.grants_total.items() if k in members}


class RoomInput(BaseModel):
    """How a room coordinator starts."""

    room_id: Identifier
    members: list[Identifier] = Field(default_factory=list, max_length=MAX_IDS)
    policy: FloorPolicy = FloorPolicy()
    snapshot: RoomSnapshot | None = None
    max_history_events: int = Field(default=10_000, ge=100, le=50_000)


class RoomView(BaseModel):
    """A room as a user sees it."""

    room_id: str
    members: list[str]
    open_floors: int
    decided: int
    grants_total: dict[str, int]
    late_bids: int
    undelivered: int = 0
    shed: int = 0
    late_credited: int = 0
    rejected: int = 0
