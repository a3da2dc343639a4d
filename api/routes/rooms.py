"""Rooms where an entity's personas talk."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from api.auth import Caller, allow
from api.models import MessageIn, RoomIn, Started
from api.owners import OwnedRoom
from api.problems import Problem
from api.services import ServicesDep
from personas.items import InboxItem
from personas.rooms import RoomView

router = APIRouter(prefix="/v1/rooms", tags=["rooms"])


@router.post("", status_code=201)
async def create_room(body: RoomIn, who: Caller, svc: ServicesDep) -> Started:
    """Start a room's coordinator; every member must be a persona of the caller's entity."""
    records = await asyncio.to_thread(svc.store.get_latest_personas, body.members)
    for member in body.members:
        if member not in records:
            raise Problem(404, f"unknown persona {member}")
        allow(who, records[member].entity_id, f"persona {member}")
    return Started(
        workflow_id=await svc.personas.create_room(body.room_id, body.members, body.policy)
    )


@router.get("/{room_id}")
async def show_room(room_id: OwnedRoom, svc: ServicesDep) -> RoomView:
    """The room's members, open floors and grants."""
    return await svc.personas.room(room_id)


@router.post("/{room_id}/messages", status_code=202)
async def post_to_room(
    body: MessageIn, room_id: OwnedRoom, who: Caller, svc: ServicesDep
) -> InboxItem:
    """Post to the room; the coordinator picks responders."""
    return await svc.personas.post_to_room(
        room_id, body.text, body.sender_id or who.actor, human=body.human, priority=body.priority
    )
