"""API keys: create, list, rotate with overlap, revoke."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from activities.api_access.keys import ApiKeyInfo, IssuedApiKey
from api.auth import Caller
from api.models import KeyIn, RotateIn
from api.owners import OwnedEntity, OwnedKey
from api.pagination import Page, PageQuery, paginate
from api.services import ServicesDep

router = APIRouter(tags=["api keys"])


@router.post("/v1/entities/{entity_id}/api-keys", status_code=201)
async def create_key(body: KeyIn, entity_id: OwnedEntity, svc: ServicesDep) -> IssuedApiKey:
    """A new key of the entity; its secret is in this response only."""
    return await asyncio.to_thread(lambda: svc.keys.create(entity_id, label=body.label))


@router.get("/v1/entities/{entity_id}/api-keys")
async def list_keys(entity_id: OwnedEntity, page: PageQuery, svc: ServicesDep) -> Page[ApiKeyInfo]:
    """The entity's keys (never their secrets)."""
    return paginate(await asyncio.to_thread(svc.keys.list, entity_id), page)


@router.post("/v1/api-keys/{key_id}/rotate", status_code=201)
async def rotate_key(body: RotateIn, key_id: OwnedKey, svc: ServicesDep) -> IssuedApiKey:
    """A new key of the same scope; the old one stays valid ``overlap_s`` more seconds."""
    return await asyncio.to_thread(svc.keys.rotate, key_id, body.overlap)


@router.delete("/v1/api-keys/{key_id}")
async def revoke_key(key_id: OwnedKey, who: Caller, svc: ServicesDep) -> ApiKeyInfo:
    """Revoke a key at once."""
    return await asyncio.to_thread(svc.keys.revoke, key_id)
