"""Who owns an object: route dependencies that refuse (403) before anything else runs.

Each resolves its path parameter to the owning entity and checks the caller against it, so
a body is never even validated for a caller who may not touch the object.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Depends, Path
from temporalio.service import RPCError, RPCStatusCode

from activities.store import UnknownPersona
from api.auth import Caller, Principal, allow
from api.problems import Problem
from api.services import Services, ServicesDep
from clients.api import PersonaError
from personas.ids import fleet_workflow_id, negotiation_workflow_id, room_workflow_id
from runtime import search_attributes as sa

#: A path parameter naming a stored object or a workflow.
ObjectId = Annotated[str, Path(min_length=1, max_length=255)]


async def allow_workflow_owner(
    svc: Services, who: Principal, workflow_id: str, missing: str, what: str
) -> None:
    """Refuse (403) unless ``who`` may act for the workflow's ``EntityId`` search attribute;
    404 (``missing``) when there is no such workflow or it has no entity."""
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
    allow(who, str(entity), what)


async def entity_path(
    entity_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")], who: Caller
) -> str:
    """An entity in the path the caller may act for."""
    allow(who, entity_id, f"entity {entity_id}")
    return entity_id


async def persona_path(persona_id: ObjectId, who: Caller, svc: ServicesDep) -> str:
    """An AI persona (any kind in the store) the caller's entity owns."""
    try:
        record = await asyncio.to_thread(svc.store.get_persona, persona_id)
    except UnknownPersona:
        raise Problem(404, f"unknown persona {persona_id}") from None
    allow(who, record.entity_id, f"persona {persona_id}")
    return persona_id


async def room_path(room_id: ObjectId, who: Caller, svc: ServicesDep) -> str:
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


async def negotiation_path(negotiation_id: ObjectId, who: Caller, svc: ServicesDep) -> str:
    """A negotiation started for the caller's entity."""
    workflow_id, what = negotiation_workflow_id(negotiation_id), f"negotiation {negotiation_id}"
    await allow_workflow_owner(svc, who, workflow_id, f"unknown {what}", what)
    return negotiation_id


async def fleet_path(fleet_id: ObjectId, who: Caller, svc: ServicesDep) -> str:
    """A fleet of the caller's entity."""
    what = f"fleet {fleet_id}"
    await allow_workflow_owner(
        svc, who, fleet_workflow_id(fleet_id), f"{what} is not running", what
    )
    return fleet_id


async def app_persona_entity(svc: Services, persona_id: str) -> str:
    """The entity owning an app persona (404 when unknown)."""
    try:
        return (await svc.apps.get(persona_id)).entity_id
    except PersonaError as err:
        raise Problem(404, str(err)) from None


async def session_path(session_id: ObjectId, who: Caller, svc: ServicesDep) -> str:
    """An app session of a persona of the caller's entity."""
    view = await svc.apps._view(session_id)
    allow(who, await app_persona_entity(svc, view.persona_id), f"session {session_id}")
    return session_id


async def key_path(
    key_id: Annotated[str, Path(min_length=1, max_length=32)], who: Caller, svc: ServicesDep
) -> str:
    """An API key of the caller's entity (an administrator's key: administrators only)."""
    info = await asyncio.to_thread(svc.keys.get, key_id)
    if info.admin and not who.admin:
        raise Problem(403, "administrators' keys are managed with an administrator's key")
    if info.entity_id is not None:
        allow(who, info.entity_id, f"API key {key_id}")
    return key_id


#: Route parameters that are an object the caller may touch (its id).
OwnedEntity = Annotated[str, Depends(entity_path)]
OwnedPersona = Annotated[str, Depends(persona_path)]
OwnedRoom = Annotated[str, Depends(room_path)]
OwnedNegotiation = Annotated[str, Depends(negotiation_path)]
OwnedFleet = Annotated[str, Depends(fleet_path)]
OwnedSession = Annotated[str, Depends(session_path)]
OwnedKey = Annotated[str, Depends(key_path)]
