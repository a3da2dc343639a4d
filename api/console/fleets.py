"""The console's fleet pages: the entity's fleets, and one fleet's configuration against its
persona's optimum, its deviation over the decided changes and what became of each."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import Principal
from api.console.auth import Who
from api.console.render import page
from api.owners import allow_workflow_owner
from api.services import services
from personas.ids import fleet_workflow_id
from runtime import search_attributes as sa

router = APIRouter(prefix="/console/fleets")
LISTED = 50


@router.get("", response_class=HTMLResponse)
async def fleets_page(request: Request, who: Principal = Who) -> Response:
    """The entity's fleets."""
    query = f"{sa.PERSONA_KIND.name} = 'fleet'"
    if not who.admin:
        query += f" AND {sa.ENTITY_ID.name} = '{who.entity_id}'"
    prefix = fleet_workflow_id("")
    found = []
    async for wf in services(request).fleets.client.list_workflows(query, limit=LISTED):
        found.append(wf.id.removeprefix(prefix))
    return page(request, "fleets.html", fleets=found)


@router.get("/{fleet_id}", response_class=HTMLResponse)
async def fleet_page(request: Request, fleet_id: str, who: Principal = Who) -> Response:
    """One fleet: configuration, optimum, deviation over its changes."""
    fid = fleet_id[:80]
    svc = services(request)
    await allow_workflow_owner(
        svc, who, fleet_workflow_id(fid), f"fleet {fid} is not running", f"fleet {fid}"
    )
    view = await svc.fleets.view(fid)
    return page(request, "fleet.html", view=view, workflow_id=fleet_workflow_id(fid),
                deviation=[c.deviation for c in view.changes] + [view.deviation])  # fmt: skip
