"""Inbox items: one domain-agnostic envelope for chat messages, vision frames, game states."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from personas.models import IDENTIFIER

BP = 10_000
"""Priorities are integers in basis points (0..10,000) so that boundaries are exact."""

HIGH_PRIORITY_BP = 8_000
"""Strictly above this (priority > 0.8) an item is high priority: always engaged."""


def to_bp(priority: float) -> int:
    """A priority in [0, 1] as basis points, rounded to the nearest point."""
    return round(priority * BP)


class Dependency(BaseModel):
    """Work another persona must finish first: its ``task_key`` on persona ``persona_id``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    persona_id: str = Field(pattern=IDENTIFIER)
    task_key: str = Field(pattern=IDENTIFIER)


class InboxItem(BaseModel):
    """What arrives in a persona's inbox. Large payloads stay in the store (``content_ref``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item_id: str = Field(pattern=IDENTIFIER)
    kind: str = Field(default="chat", pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    sender_id: str = Field(pattern=IDENTIFIER)
    sender_is_human: bool = False
    room_id: str | None = Field(default=None, pattern=IDENTIFIER)
    content_ref: str | None = Field(default=None, max_length=128)
    mentions: tuple[str, ...] = Field(default=(), max_length=32)
    topics: tuple[str, ...] = Field(default=(), max_length=32)
    priority: float = Field(default=0.0, ge=0.0, le=1.0, allow_inf_nan=False)
    sent_at: AwareDatetime
    task_key: str | None = Field(default=None, pattern=IDENTIFIER)
    waits_for: tuple[Dependency, ...] = Field(default=(), max_length=16)


class InboxEntry(BaseModel):
    """An item as the inbox holds it: its base priority and when it arrived."""

    model_config = ConfigDict(frozen=True)

    item: InboxItem
    base_bp: int = Field(ge=0, le=BP)
    arrived_ms: int
    seq: int

    @property
    def arrived_at(self) -> datetime:
        """Arrival time as a UTC datetime."""
        from datetime import UTC

        return datetime.fromtimestamp(self.arrived_ms / 1000, UTC)
