"""API keys: create, list, rotate with overlap, revoke."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends

from activities.api_access.keys import ApiKeyInfo, IssuedApiKey
from api.auth import Principal, principal
from api.models import KeyIn, RotateIn
from api.owners import entity_path, key_path
from api.pagination import Page, PageParams, page_params, paginate
from api.services import Services, services

router = APIRouter(tags=["api keys"])


@router.post("/v1/entities/{entity_id}/api-keys", status_code=201)
async def create_key(
    body: KeyIn, entity_id: str = Depends(entity_path), svc: Services = Depends(services)
) -> IssuedApiKey:
    """A new key of the entity; its secret is in this response only."""
    return await asyncio.to_thread(lambda: svc.keys.create(entity_id, label=body.label))


@router.get("/v1/entities/{entity_id}/api-keys")
async def list_keys(
    entity_id: str = Depends(entity_path),
    page: PageParams = Depends(page_params),
    svc: Services = Depends(services),
) -> Page[ApiKeyInfo]:
    """The entity's keys (never their secrets)."""
    return paginate(await asyncio.to_thread(svc.keys.list, entity_id), page)


@router.post("/v1/api-keys/{key_id}/rotate", status_code=201)
async def rotate_key(
    body: RotateIn, key_id: str = Depends(key_path), svc: Services = Depends(services)
) -> IssuedApiKey:
    """A new key of the same scope; the old one stays valid ``overlap_s`` more seconds."""
    return await asyncio.to_thread(svc.keys.rotate, key_id, body.overlap)


@router.delete("/v1/api-keys/{key_id}")
async def revoke_key(
    key_id: str = Depends(key_path),
    who: Principal = Depends(principal),
    svc: Services = Depends(services),
) -> ApiKeyInfo:
    """Revoke a key at once."""
    return await asyncio.to_thread(svc.keys.revoke, key_id)
