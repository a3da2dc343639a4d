"""AI personas: create, read, start/stop, post, state (and its SSE stream), inbox, outputs,
overflow, triggers, grants and tools."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from activities.store import OutcomeRecord, PersonaRecord, ShedRecord
from api.auth import Principal, allow, entity_filter, principal
from api.idempotency import IdempotencyHeader, Outcome, idempotent
from api.models import MessageIn, Started
from api.owners import persona_path
from api.pagination import Page, PageParams, page_params, paginate
from api.problems import Problem
from api.services import Services, services
from clients.api import PersonaError
from personas.agent.resources import Grant, Scope
from personas.items import InboxItem
from personas.life import InboxView, LifeStats, PersonaView
from personas.models import AIPersonaProfile

router = APIRouter(prefix="/v1/personas", tags=["ai personas"])
#: Seconds between looks at a persona's state while a stream is open.
STREAM_POLL_S = 1.0


@router.post("", status_code=201, response_model=PersonaRecord)
async def create_persona(
    request: Request,
    profile: AIPersonaProfile,
    who: Principal = Depends(principal),
    svc: Services = Depends(services),
    key: str | None = IdempotencyHeader,
) -> JSONResponse:
    """Create an AI persona; its access scope must be among its entity's resources."""
    allow(who, profile.entity_id, f"entity {profile.entity_id}")

    async def run(_: str) -> Outcome:
        record = await svc.personas.create_persona(profile, who.actor)
        return 201, record.model_dump(mode="json"), f"/v1/personas/{record.persona_id}"

    return await idempotent(request, who, svc, key, run)


@router.get("")
async def list_personas(
    entity_id: str | None = Query(default=None, max_length=128),
    who: Principal = Depends(principal),
    page: PageParams = Depends(page_params),
    svc: Services = Depends(services),
) -> Page[PersonaRecord]:
    """AI personas of the caller's entity (an administrator: every entity, or one)."""
    return paginate(await svc.personas.list_personas(entity_filter(who, entity_id)), page)


@router.get("/{persona_id}")
async def show_persona(
    persona_id: str = Depends(persona_path), svc: Services = Depends(services)
) -> PersonaRecord:
    """The persona's latest stored version."""
    return await svc.personas.persona(persona_id)


@router.post("/{persona_id}/start")
async def start_persona(
    persona_id: str = Depends(persona_path), svc: Services = Depends(services)
) -> Started:
    """Start the persona's life (no-op when it runs)."""
    return Started(workflow_id=await svc.personas.start_life(persona_id))


@router.post("/{persona_id}/stop")
async def stop_persona(
    persona_id: str = Depends(persona_path), svc: Services = Depends(services)
) -> LifeStats:
    """Stop the persona's life; waiting items go to the overflow record."""
    return await svc.personas.stop_life(persona_id)


@router.post("/{persona_id}/messages", status_code=202)
async def post_message(
    body: MessageIn,
    persona_id: str = Depends(persona_path),
    who: Principal = Depends(principal),
    svc: Services = Depends(services),
) -> InboxItem:
    """Deliver a message (waking the persona when it sleeps)."""
    return await svc.personas.post_to_persona(
        persona_id,
        body.text,
        body.sender_id or who.actor,
        human=body.human,
        priority=body.priority,
        kind=body.kind,
        task_key=body.task_key,
        waits_for=body.waits_for,
        parts=body.parts,
    )


@router.get("/{persona_id}/state")
async def persona_state(
    persona_id: str = Depends(persona_path), svc: Services = Depends(services)
) -> PersonaView:
    """The persona's state, mood and counters."""
    return await svc.personas.view(persona_id)


@router.get(
    "/{persona_id}/state/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def persona_state_stream(
    persona_id: str = Depends(persona_path),
    max_events: int | None = Query(default=None, ge=1, le=100_000),
    svc: Services = Depends(services),
) -> StreamingResponse:
    """Server-Sent Events: a ``state`` event each time the persona's view changes."""
    first = await svc.personas.view(persona_id)

    async def events() -> AsyncIterator[str]:
        sent, last, view = 0, "", first
        while max_events is None or sent < max_events:
            data = view.model_dump_json()
            if data != last:
                yield f"event: state\ndata: {data}\n\n"
                sent, last = sent + 1, data
            else:
                yield ": idle\n\n"
            await asyncio.sleep(STREAM_POLL_S)
            try:
                view = await svc.personas.view(persona_id)
            except PersonaError as err:
                yield f"event: error\ndata: {json.dumps({'detail': str(err)})}\n\n"
                return

    return StreamingResponse(events(), media_type="text/event-stream")


@router.get("/{persona_id}/inbox")
async def persona_inbox(
    persona_id: str = Depends(persona_path),
    n: int = Query(default=10, ge=0, le=100),
    svc: Services = Depends(services),
) -> list[InboxView]:
    """The next ``n`` items the persona will take."""
    return await svc.personas.inbox(persona_id, n)


@router.get("/{persona_id}/outputs")
async def persona_outputs(
    persona_id: str = Depends(persona_path),
    page: PageParams = Depends(page_params),
    svc: Services = Depends(services),
) -> Page[OutcomeRecord]:
    """The persona's replies and other outputs, newest first."""
    records = await asyncio.to_thread(svc.store.recent_outcomes, persona_id, 1000)
    return paginate(records, page)


@router.get("/{persona_id}/overflow")
async def persona_overflow(
    persona_id: str = Depends(persona_path),
    page: PageParams = Depends(page_params),
    svc: Services = Depends(services),
) -> Page[ShedRecord]:
    """Items the persona shed (inbox overflow, stops), in the order recorded."""
    return paginate(await asyncio.to_thread(svc.store.shed_items, persona_id), page)


@router.post("/{persona_id}/triggers/{event}")
async def fire_trigger(
    event: str, persona_id: str = Depends(persona_path), svc: Services = Depends(services)
) -> dict[str, str]:
    """Fire an activation or deactivation event; the life is then ``live`` or ``paused``."""
    if len(event) > 64:
        raise Problem(422, "invalid request: event: at most 64 characters")
    return {"life": await svc.personas.trigger(persona_id, event)}


@router.get("/{persona_id}/scope")
async def persona_scope(
    persona_id: str = Depends(persona_path), svc: Services = Depends(services)
) -> Scope:
    """The resources granted to the persona."""
    return await svc.agents.scope(persona_id)


@router.post("/{persona_id}/grants")
async def grant(
    grants: list[Grant],
    persona_id: str = Depends(persona_path),
    svc: Services = Depends(services),
) -> Scope:
    """Grant resources of the persona's entity; its scope after."""
    if len(grants) > 64:
        raise Problem(422, "invalid request: at most 64 grants at once")
    return await svc.agents.grant(persona_id, grants)


@router.delete("/{persona_id}/grants/{resource}")
async def revoke(
    resource: str, persona_id: str = Depends(persona_path), svc: Services = Depends(services)
) -> dict[str, bool]:
    """Revoke one grant."""
    return {"revoked": await svc.agents.revoke(persona_id, resource[:64])}
