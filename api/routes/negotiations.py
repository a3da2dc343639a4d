"""Instance negotiations: start (202 + Location), state and rounds (and their stream), answers,
release."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api.auth import Caller, allow
from api.idempotency import IdempotencyHeader, Outcome, idempotent
from api.owners import OwnedNegotiation
from api.problems import Problem
from api.services import ServicesDep
from api.streams import STREAM_RESPONSES, MaxEvents, view_stream
from personas.instance.negotiation import Answer, NegotiationInput
from personas.instance.views import NegotiationView, Round

router = APIRouter(prefix="/v1/negotiations", tags=["negotiations"])


@router.post("", status_code=202, response_model=dict[str, str])
async def start_negotiation(
    request: Request,
    body: NegotiationInput,
    who: Caller,
    svc: ServicesDep,
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
async def show_negotiation(negotiation_id: OwnedNegotiation, svc: ServicesDep) -> NegotiationView:
    """Status, rounds, terms and outcome."""
    return await svc.instances.view(negotiation_id)


@router.get("/{negotiation_id}/rounds")
async def rounds(negotiation_id: OwnedNegotiation, svc: ServicesDep) -> list[Round]:
    """Every round so far with its proposals."""
    return list((await svc.instances.view(negotiation_id)).rounds)


@router.get(
    "/{negotiation_id}/stream", response_class=StreamingResponse, responses=STREAM_RESPONSES
)
async def negotiation_stream(
    negotiation_id: OwnedNegotiation, svc: ServicesDep, max_events: int | None = MaxEvents
) -> StreamingResponse:
    """Server-Sent Events: a ``negotiation`` event each time its view changes (a new round
    of proposals, an answer taken, agreement, provisioning, release)."""
    return await view_stream(lambda: svc.instances.view(negotiation_id), "negotiation", max_events)


@router.post("/{negotiation_id}/answers")
async def answer(
    negotiation_id: OwnedNegotiation, svc: ServicesDep, body: Answer = Body()
) -> NegotiationView:
    """Accept, modify, reject, add a constraint or counter-offer; the next round's view."""
    view = await svc.instances.answer(negotiation_id, body, wait=True)
    if view is None:
        raise Problem(409, f"negotiation {negotiation_id} gave no view")
    return view


@router.post("/{negotiation_id}/release", status_code=202)
async def release(negotiation_id: OwnedNegotiation, svc: ServicesDep) -> dict[str, str]:
    """Release the provisioned instance; the negotiation then ends."""
    await svc.instances.release(negotiation_id)
    return {"negotiation_id": negotiation_id, "status": "releasing"}
