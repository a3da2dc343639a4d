"""Instance negotiations: start (202 + Location), state and rounds, answers, release."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from api.auth import Principal, allow, principal
from api.idempotency import IdempotencyHeader, Outcome, idempotent
from api.owners import negotiation_path
from api.problems import Problem
from api.services import Services, services
from personas.instance.negotiation import Answer, NegotiationInput
from personas.instance.views import NegotiationView, Round

router = APIRouter(prefix="/v1/negotiations", tags=["negotiations"])


@router.post("", status_code=202, response_model=dict[str, str])
async def start_negotiation(
    request: Request,
    body: NegotiationInput,
    who: Principal = Depends(principal),
    svc: Services = Depends(services),
    key: str | None = IdempotencyHeader,
) -> JSONResponse:
    """Start a negotiation for an instance; its state is at the Location."""
    allow(who, body.entity_id, f"entity {body.entity_id}")
    fields: dict[str, Any] = body.model_dump(exclude_unset=True)

    async def run(_: str) -> Outcome:
        negotiation_id = await svc.instances.start(**fields)
        return 202, {"negotiation_id": negotiation_id}, f"/v1/negotiations/{negotiation_id}"

    return await idempotent(request, who, svc, key, run)


@router.get("/{negotiation_id}")
async def show_negotiation(
    negotiation_id: str = Depends(negotiation_path), svc: Services = Depends(services)
) -> NegotiationView:
    """Status, rounds, terms and outcome."""
    return await svc.instances.view(negotiation_id)


@router.get("/{negotiation_id}/rounds")
async def rounds(
    negotiation_id: str = Depends(negotiation_path), svc: Services = Depends(services)
) -> list[Round]:
    """Every round so far with its proposals."""
    return list((await svc.instances.view(negotiation_id)).rounds)


@router.post("/{negotiation_id}/answers")
async def answer(
    body: Answer = Body(),
    negotiation_id: str = Depends(negotiation_path),
    svc: Services = Depends(services),
) -> NegotiationView:
    """Accept, modify, reject, add a constraint or counter-offer; the next round's view."""
    view = await svc.instances.answer(negotiation_id, body, wait=True)
    if view is None:
        raise Problem(409, f"negotiation {negotiation_id} gave no view")
    return view


@router.post("/{negotiation_id}/release", status_code=202)
async def release(
    negotiation_id: str = Depends(negotiation_path), svc: Services = Depends(services)
) -> dict[str, str]:
    """Release the provisioned instance; the negotiation then ends."""
    await svc.instances.release(negotiation_id)
    return {"negotiation_id": negotiation_id, "status": "releasing"}
