"""App personas: define (a new version each time), show, grant and revoke a user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from activities.app.repository import VersionedAppPersona
from api.auth import Caller
from api.models import Revoked
from api.owners import OwnedEntity, OwnedPersona
from api.services import ServicesDep
from personas.app.models import AppPersona

router = APIRouter(tags=["app personas"])

#: A user id in a path, as the broker's tokens name it.
UserId = Annotated[str, Path(min_length=1, max_length=128)]


@router.post("/v1/entities/{entity_id}/app-personas", status_code=201)
async def define(
    body: AppPersona, entity_id: OwnedEntity, who: Caller, svc: ServicesDep
) -> VersionedAppPersona:
    """Store an app persona of the entity, or a new version of it."""
    return await svc.apps.define_as(who.actor, entity_id, "api", body)


@router.get("/v1/app-personas/{persona_id}")
async def show(
    persona_id: OwnedPersona,
    svc: ServicesDep,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> VersionedAppPersona:
    """A stored version of the app persona (the latest by default)."""
    return await svc.apps.get(persona_id, version)


@router.put("/v1/app-personas/{persona_id}/grants/{user_id}")
async def grant(persona_id: OwnedPersona, user_id: UserId, svc: ServicesDep) -> dict[str, bool]:
    """Allow the user to request the persona (idempotent)."""
    await svc.apps.grant_as(persona_id, user_id)
    return {"granted": True}


@router.delete("/v1/app-personas/{persona_id}/grants/{user_id}")
async def revoke(
    persona_id: OwnedPersona, user_id: UserId, who: Caller, svc: ServicesDep
) -> Revoked:
    """Withdraw the user's grant and end the user's running sessions of the persona."""
    return Revoked(ended_sessions=await svc.apps.revoke_as(who.actor, persona_id, user_id))
