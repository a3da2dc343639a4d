"""Fleet personas: learn, start (202 + Location), show, steer (context, risk, shadow), stop,
A/B tests (202 + Location, then their decision) and the marketplace."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from activities.fleet.market import Market, MarketError
from api.auth import Caller
from api.models import ABIn, FleetIn, LearnIn, MarketDeployIn, RiskIn, ShadowIn
from api.owners import OwnedEntity, OwnedFleet
from api.problems import Problem
from api.services import ServicesDep
from clients.fleet_api import ABStatus, config_of, learn_persona
from personas.fleet.context import FleetContext
from personas.fleet.persona import FleetPersona
from workflows.fleet_adaptation import FleetView

router = APIRouter(tags=["fleets"])

#: An A/B test's id in a path.
ABId = Annotated[str, Path(min_length=1, max_length=80)]


def _learned(body: LearnIn, author: str) -> FleetPersona:
    return learn_persona(
        body.fleet_id,
        body.scenario,
        body.intents,
        rounds=body.rounds,
        seed=body.seed,
        author=author,
    )


@router.post("/v1/entities/{entity_id}/fleet-personas")
async def learn(body: LearnIn, entity_id: OwnedEntity) -> FleetPersona:
    """Learn a fleet persona in the simulator (not stored, not started)."""
    return await asyncio.to_thread(_learned, body, f"api:{entity_id}"[:80])


@router.post("/v1/entities/{entity_id}/fleets", status_code=202)
async def start_fleet(body: FleetIn, entity_id: OwnedEntity, svc: ServicesDep) -> JSONResponse:
    """Learn the fleet's persona and start adapting the fleet; its view is at the Location."""
    persona = await asyncio.to_thread(_learned, body, f"api:{entity_id}"[:80])
    fleet_id = await svc.fleets.start(
        fleet_id=body.fleet_id,
        entity_id=entity_id,
        persona=persona,
        current=config_of(dict(body.current)),
        risk_tolerance=body.risk_tolerance,
        cadence_s=body.cadence_s,
        shadow=body.shadow,
        scenario=body.scenario,
    )
    location = f"/v1/fleets/{fleet_id}"
    return JSONResponse({"fleet_id": fleet_id}, status_code=202, headers={"Location": location})


@router.get("/v1/fleets/{fleet_id}")
async def show_fleet(fleet_id: OwnedFleet, svc: ServicesDep) -> FleetView:
    """The fleet's configuration, deviation, context and changes."""
    return await svc.fleets.view(fleet_id)


@router.put("/v1/fleets/{fleet_id}/context")
async def set_context(
    context: FleetContext, fleet_id: OwnedFleet, svc: ServicesDep
) -> dict[str, int]:
    """Set the fleet's context (hour, day, events); returns the persona version in use."""
    return {"persona_version": await svc.fleets.set_context(fleet_id, context)}


@router.put("/v1/fleets/{fleet_id}/risk")
async def set_risk(body: RiskIn, fleet_id: OwnedFleet, svc: ServicesDep) -> dict[str, float]:
    """Change the risk tolerance in [0, 1]."""
    return {"risk_tolerance": await svc.fleets.set_risk(fleet_id, body.tolerance)}


@router.put("/v1/fleets/{fleet_id}/shadow")
async def set_shadow(body: ShadowIn, fleet_id: OwnedFleet, svc: ServicesDep) -> dict[str, bool]:
    """Turn shadow mode on or off."""
    return {"shadow": await svc.fleets.set_shadow(fleet_id, body.shadow)}


@router.post("/v1/fleets/{fleet_id}/stop", status_code=202)
async def stop_fleet(fleet_id: OwnedFleet, svc: ServicesDep) -> dict[str, bool]:
    """Stop adapting the fleet."""
    await svc.fleets.stop(fleet_id)
    return {"stopping": True}


@router.post("/v1/fleets/{fleet_id}/ab-tests", status_code=202)
async def start_ab_test(body: ABIn, fleet_id: OwnedFleet, svc: ServicesDep) -> JSONResponse:
    """Start an A/B test of the fleet's variations; its decision is at the Location."""
    fields: dict[str, Any] = body.model_dump(exclude_unset=True)
    ab_id = await svc.fleets.start_ab_test(**fields, fleet_id=fleet_id)
    location = f"/v1/fleets/{fleet_id}/ab-tests/{ab_id}"
    return JSONResponse({"ab_id": ab_id}, status_code=202, headers={"Location": location})


@router.get("/v1/fleets/{fleet_id}/ab-tests/{ab_id}")
async def ab_test(ab_id: ABId, fleet_id: OwnedFleet, svc: ServicesDep) -> ABStatus:
    """An A/B test of the fleet: running, or its decision with each variation's probability
    of being the best."""
    return await svc.fleets.ab_status(fleet_id, ab_id)


@router.post("/v1/fleets/{fleet_id}/deployments")
async def deploy_from_market(
    body: MarketDeployIn, fleet_id: OwnedFleet, svc: ServicesDep
) -> dict[str, int]:
    """Vet a marketplace persona (signature, simulator) and adopt it; refused with reasons."""
    return {"persona_version": await svc.fleets.deploy_from_market(fleet_id, body.name)}


@router.get("/v1/marketplace")
async def search_marketplace(
    _: Caller,
    svc: ServicesDep,
    text: Annotated[str, Query(max_length=120)] = "",
    kind: Annotated[str | None, Query(max_length=32)] = None,
) -> list[dict[str, object]]:
    """Published personas whose name, description or tags contain ``text``, best rated
    first. The marketplace is shared: every entity's key reads it."""
    try:
        return await asyncio.to_thread(Market(svc.store).search, text, kind)
    except MarketError as err:
        raise Problem(422, str(err)) from None
