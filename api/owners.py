"""Who owns an object: route dependencies that refuse (403) before anything else runs.

Each resolves its path parameter to the owning entity and checks the caller against it, so
a body is never even validated for a caller who may not touch the object.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Depends, Path
from temporalio.service import RPCError, RPCStatusCode

from activities.store import UnknownPersona
from api.auth import Principal, allow, principal
from api.problems import Problem
from api.services import Services, services
from clients.api import PersonaError
from personas.ids import fleet_workflow_id, negotiation_workflow_id, room_workflow_id
from runtime import search_attributes as sa


async def _workflow_entity(svc: Services, workflow_id: str, missing: str) -> str:
    """The ``EntityId`` search attribute of a workflow; 404 when there is no such workflow."""
    handle = svc.personas.client.get_workflow_handle(workflow_id)
    try:
        described = await handle.describe()
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise Problem(404, missing) from None
        raise
    entity = described.typed_search_attributes.get(sa.ENTITY_ID)
    if not entity:
        raise Problem(404, missing)
    return str(entity)


async def entity_path(
    entity_id: str = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"),
    who: Principal = Depends(principal),
) -> str:
    """An entity in the path the caller may act for."""
    allow(who, entity_id, f"entity {entity_id}")
    return entity_id


async def persona_path(
    persona_id: str = Path(min_length=1, max_length=255),
    who: Principal = Depends(principal),
    svc: Services = Depends(services),
) -> str:
    """An AI persona (any kind in the store) the caller's entity owns."""
    try:
        record = await asyncio.to_thread(svc.store.get_persona, persona_id)
    except UnknownPersona:
        raise Problem(404, f"unknown persona {persona_id}") from None
    allow(who, record.entity_id, f"persona {persona_id}")
    return persona_id


async def room_path(
    room_id: str = Path(min_length=1, max_length=255),
    who: Principal = Depends(principal),
    svc: Services = Depends(services),
) -> str:
    """A room whose members are the caller's entity's personas."""
    handle = svc.personas.client.get_workflow_handle(room_workflow_id(room_id))
    try:
        members: list[Any] = await (await handle.describe()).memo_value(
            "members", [], type_hint=list
        )
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise Problem(404, f"no room {room_id}; create it first") from None
        raise
    records = await asyncio.to_thread(svc.store.get_latest_personas, [str(m) for m in members][:64])
    for record in records.values():
        allow(who, record.entity_id, f"room {room_id}")
    return room_id


async def negotiation_path(
    negotiation_id: str = Path(min_length=1, max_length=255),
    who: Principal = Depends(principal),
    svc: Services = Depends(services),
) -> str:
    """A negotiation started for the caller's entity."""
    entity = await _workflow_entity(
        svc, negotiation_workflow_id(negotiation_id), f"unknown negotiation {negotiation_id}"
    )
    allow(who, entity, f"negotiation {negotiation_id}")
    return negotiation_id


async def fleet_path(
    fleet_id: str = Path(min_length=1, max_length=255),
    who: Principal = Depends(principal),
    svc: Services = Depends(services),
) -> str:
    """A fleet of the caller's entity."""
    entity = await _workflow_entity(
        svc, fleet_workflow_id(fleet_id), f"fleet {fleet_id} is not running"
    )
    allow(who, entity, f"fleet {fleet_id}")
    return fleet_id


async def app_persona_entity(svc: Services, persona_id: str) -> str:
    """The entity owning an app persona (404 when unknown)."""
    try:
        return (await svc.apps.get(persona_id)).entity_id
    except PersonaError as err:
        raise Problem(404, str(err)) from None


async def session_path(
    session_id: str = Path(min_length=1, max_length=255),
    who: Principal = Depends(principal),
    svc: Services = Depends(services),
) -> str:
    """An app session of a persona of the caller's entity."""
    view = await svc.apps._view(session_id)
    allow(who, await app_persona_entity(svc, view.persona_id), f"session {session_id}")
    return session_id


async def key_path(
    key_id: str = Path(min_length=1, max_length=32),
    who: Principal = Depends(principal),
    svc: Services = Depends(services),
) -> str:
    """An API key of the caller's entity (an administrator's key: administrators only)."""
    info = await asyncio.to_thread(svc.keys.get, key_id)
    if info.admin and not who.admin:
        raise Problem(403, "administrators' keys are managed with an administrator's key")
    if info.entity_id is not None:
        allow(who, info.entity_id, f"API key {key_id}")
    return key_id
