"""Rooms: where personas hear messages and the coordinator decides who responds."""

from __future__ import annotations

from pydantic import BaseModel, Field

from personas.coordination import Bid, FloorPolicy
from personas.items import IDENTIFIER, InboxItem


class OpenFloor(BaseModel):
    """A room message whose responders are not decided yet."""

    message_id: str
    deadline_ms: int
    expected: list[str]
    bids: list[Bid] = Field(default_factory=list)

    def answered(self) -> set[str]:
        """Members that bid or passed."""
        return {b.persona_id for b in self.bids}

    def complete(self) -> bool:
        """Every expected member has answered."""
        return set(self.expected) <= self.answered()


class RoomSnapshot(BaseModel):
    """A room's live state: changed in place, carried whole into its next run."""

    members: list[str]
    open_floors: list[OpenFloor] = Field(default_factory=list)
    pending_posts: list[InboxItem] = Field(default_factory=list)
    credits: dict[str, int] = Field(default_factory=dict)
    grants_total: dict[str, int] = Field(default_factory=dict)
    decided: int = 0
    late_bids: int = 0


class RoomInput(BaseModel):
    """How a room coordinator starts."""

    room_id: str = Field(pattern=IDENTIFIER)
    members: list[str] = Field(default_factory=list, max_length=1000)
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
