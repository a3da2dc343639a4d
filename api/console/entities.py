"""The console's entity page: the resources the caller's entity may grant (plain and typed)
and its API keys (never their secrets)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import Principal
from api.console.auth import Who
from api.console.render import page
from api.services import services

router = APIRouter(prefix="/console/entity")


@router.get("", response_class=HTMLResponse)
async def entity_page(request: Request, who: Principal = Who) -> Response:
    """The caller's entity: resources and keys (an administrator: every key)."""
    svc = services(request)
    permitted: list[str] = []
    typed = []
    if who.entity_id is not None:
        permitted = sorted(await svc.personas._entity_permits(who.entity_id))
        typed = await svc.agents.resources(who.entity_id)
    keys = await asyncio.to_thread(svc.keys.list, who.entity_id)
    return page(request, "entity.html", permitted=permitted, typed=typed, keys=keys[:200])
