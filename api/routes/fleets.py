"""Fleet personas: show and steer the context."""

from __future__ import annotations

from fastapi import APIRouter

from api.owners import OwnedFleet
from api.services import ServicesDep
from personas.fleet.context import FleetContext
from workflows.fleet_adaptation import FleetView

router = APIRouter(prefix="/v1/fleets", tags=["fleets"])


@router.get("/{fleet_id}")
async def show_fleet(fleet_id: OwnedFleet, svc: ServicesDep) -> FleetView:
    """The fleet's configuration, deviation, context and changes."""
    return await svc.fleets.view(fleet_id)


@router.put("/{fleet_id}/context")
async def set_context(
    context: FleetContext, fleet_id: OwnedFleet, svc: ServicesDep
) -> dict[str, int]:
    """Set the fleet's context (hour, day, events); returns the persona version in use."""
    return {"persona_version": await svc.fleets.set_context(fleet_id, context)}
