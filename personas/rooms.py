"""Rooms: where personas hear messages and the coordinator decides who responds."""

from __future__ import annotations

from pydantic import BaseModel, Field

from personas.bounds import MAX_IDS, Identifier
from personas.coordination import Bid, FloorPolicy
from personas.items import InboxItem

MAX_OPEN_FLOORS = 1_000
"""Room messages whose responders are not decided yet; past it a post is refused, counted."""
MAX_PENDING_POSTS = 1_000
"""Posts waiting to be fanned out; past it a post is refused and counted."""


class OpenFloor(BaseModel):
    """A room message whose responders are not decided yet."""

    message_id: Identifier
    deadline_ms: int
    expected: list[Identifier] = Field(max_length=MAX_IDS)
    bids: list[Bid] = Field(default_factory=list, max_length=MAX_IDS)

    def answered(self) -> set[str]:
        """Members that bid or passed."""
        return {b.persona_id for b in self.bids}

    def complete(self) -> bool:
        """Every expected member has answered."""
        return set(self.expected) <= self.answered()


class RoomSnapshot(BaseModel):
    """A room's live state: changed in place, carried whole into its next run."""

    members: list[Identifier] = Field(max_length=MAX_IDS)
    open_floors: list[OpenFloor] = Field(default_factory=list, max_length=MAX_OPEN_FLOORS)
    pending_posts: list[InboxItem] = Field(default_factory=list, max_length=MAX_PENDING_POSTS)
    credits: dict[Identifier, int] = Field(default_factory=dict, max_length=MAX_IDS)
    grants_total: dict[Identifier, int] = Field(default_factory=dict, max_length=MAX_IDS)
    decided: int = 0
    late_bids: int = 0
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
    rejected: int = 0
