"""Entities, their typed resources and their AI personas."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from activities.store import PersonaRecord
from api.auth import Caller, admin_only
from api.models import EntityIn, EntityOut, ResourceIn
from api.owners import OwnedEntity
from api.pagination import Page, PageQuery, paginate
from api.services import ServicesDep
from personas.agent.resources import Resource

router = APIRouter(prefix="/v1/entities", tags=["entities"])


@router.post("", status_code=201)
async def upsert_entity(body: EntityIn, who: Caller, svc: ServicesDep) -> EntityOut:
    """Create or rename an entity and add resources it may grant (administrators)."""
    admin_only(who, "creating an entity")
    await asyncio.to_thread(svc.store.upsert_entity, body.entity_id, body.name, body.resources)
    return await show_entity(body.entity_id, svc)


@router.get("/{entity_id}")
async def show_entity(entity_id: OwnedEntity, svc: ServicesDep) -> EntityOut:
    """An entity and the resources it permits."""
    permitted = await svc.personas._entity_permits(entity_id)
    return EntityOut(entity_id=entity_id, resources=sorted(permitted))


@router.get("/{entity_id}/resources")
async def list_resources(
    entity_id: OwnedEntity, page: PageQuery, svc: ServicesDep
) -> Page[Resource]:
    """The entity's typed resources."""
    return paginate(await svc.agents.resources(entity_id), page)


@router.post("/{entity_id}/resources", status_code=201)
async def add_resource(body: ResourceIn, entity_id: OwnedEntity, svc: ServicesDep) -> Resource:
    """Add a typed resource (name, type, absolute location, grantable levels)."""
    return await svc.agents.add_resource(
        entity_id, body.name, body.type, body.location, body.levels, body.description
    )


@router.delete("/{entity_id}/resources/{name}")
async def remove_resource(name: str, entity_id: OwnedEntity, svc: ServicesDep) -> dict[str, int]:
    """Remove a resource; every grant of it is revoked."""
    return {"grants_revoked": await svc.agents.remove_resource(entity_id, name[:64])}


@router.get("/{entity_id}/personas")
async def list_entity_personas(
    entity_id: OwnedEntity, page: PageQuery, svc: ServicesDep
) -> Page[PersonaRecord]:
    """The entity's AI personas."""
    return paginate(await svc.personas.list_personas(entity_id), page)
