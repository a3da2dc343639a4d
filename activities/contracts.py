"""Inputs and outputs of activities, shared with the workflows that call them.

Only pydantic models and activity names live here, so workflows can import it freely.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from personas import messages
from personas.items import InboxItem

THINK = "think"
RECORD_SHED = "record_shed"
POST_TO_ROOM = "post_to_room"
DELIVER = "deliver"
SIGNAL_PERSONA = "signal_persona"
DELIVER_BATCH = "deliver_batch"


class ThinkRequest(BaseModel):
    """Ask the persona's base model to work on one item."""

    persona_id: str
    persona_name: str
    base_persona: str
    specialization: str
    item: InboxItem
    purpose: str = Field(default="respond", pattern=r"^(respond|bid)$")
    inbox_depth: int | None = Field(default=None, ge=0, description="items still waiting")


class ThinkResult(BaseModel):
    """The model's output, stored; the workflow keeps only the reference."""

    output_ref: str
    tokens_in: int
    tokens_out: int
    compute_ms: int = Field(default=0, ge=0, description="the model call's wall time; 0 on replay")


class ShedBatch(BaseModel):
    """Shed items to write to the overflow record."""

    persona_id: str
    rows: list[tuple[str, str, int, dict[str, object]]]


class RoomPostRequest(BaseModel):
    """A persona's granted response, published to the room's transcript."""

    room_id: str
    message_id: str
    persona_id: str
    content_ref: str


class PersonaSignal(BaseModel):
    """A signal for a persona's life, starting the life when it is not running."""

    persona_id: str
    signal: str = Field(pattern=f"^({'|'.join(messages.PERSONA_SIGNALS)})$")
    payload: dict[str, Any]


class Delivery(BaseModel):
    """Items to deliver to personas, starting any persona that is not running."""

    items: list[tuple[str, InboxItem]]


class DeliveryReport(BaseModel):
    """Which personas got their signal, and which were skipped and why."""

    delivered: list[str]
    skipped: dict[str, str]


class RoomDelivery(BaseModel):
    """A room's posts for its members: each member gets, in one signal, those it did not
    send; members mentioned by a post are signalled first."""

    room_id: str
    members: list[str] = Field(max_length=1000)
    items: list[InboxItem] = Field(min_length=1, max_length=messages.DELIVER_BATCH_MAX)


class RoomDeliveryReport(BaseModel):
    """Which members got their batch, which were skipped and why, and members' names."""

    delivered: list[str]
    skipped: dict[str, str]
    names: dict[str, str]
