"""AI personas: create, read, new versions, start/stop, post, state (and its SSE stream),
inbox, outputs, overflow, triggers, grants and tools."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from activities.store import OutcomeRecord, PersonaRecord, ShedRecord
from api.auth import Caller, allow, entity_filter
from api.idempotency import IdempotencyHeader, Outcome, idempotent
from api.models import MessageIn, PersonaChanges, Started
from api.owners import OwnedPersona
from api.pagination import Page, PageQuery, paginate
from api.problems import Problem
from api.services import ServicesDep
from api.streams import STREAM_RESPONSES, MaxEvents, view_stream
from personas.agent.resources import Grant, Scope
from personas.items import InboxItem
from personas.life import InboxView, LifeStats, PersonaView
from personas.models import AIPersonaProfile

router = APIRouter(prefix="/v1/personas", tags=["ai personas"])


@router.post("", status_code=201, response_model=PersonaRecord)
async def create_persona(
    request: Request,
    profile: AIPersonaProfile,
    who: Caller,
    svc: ServicesDep,
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
    who: Caller,
    page: PageQuery,
    svc: ServicesDep,
    entity_id: str | None = Query(default=None, max_length=128),
) -> Page[PersonaRecord]:
    """AI personas of the caller's entity (an administrator: every entity, or one)."""
    return paginate(await svc.personas.list_personas(entity_filter(who, entity_id)), page)


@router.get("/{persona_id}")
async def show_persona(persona_id: OwnedPersona, svc: ServicesDep) -> PersonaRecord:
    """The persona's latest stored version."""
    return await svc.personas.persona(persona_id)


@router.patch("/{persona_id}")
async def update_persona(
    body: PersonaChanges, persona_id: OwnedPersona, who: Caller, svc: ServicesDep
) -> PersonaRecord:
    """Store a new version with the changes, validated like a new profile; a life uses it
    from its next start."""
    return await svc.personas.update_persona(persona_id, dict(body.changes), who.actor)


@router.get("/{persona_id}/versions")
async def persona_versions(
    persona_id: OwnedPersona, page: PageQuery, svc: ServicesDep
) -> Page[PersonaRecord]:
    """Every stored version of the persona, oldest first."""
    return paginate(await asyncio.to_thread(svc.store.persona_versions, persona_id), page)


@router.post("/{persona_id}/start")
async def start_persona(persona_id: OwnedPersona, svc: ServicesDep) -> Started:
    """Start the persona's life (no-op when it runs)."""
    return Started(workflow_id=await svc.personas.start_life(persona_id))


@router.post("/{persona_id}/stop")
async def stop_persona(persona_id: OwnedPersona, svc: ServicesDep) -> LifeStats:
    """Stop the persona's life; waiting items go to the overflow record."""
    return await svc.personas.stop_life(persona_id)


@router.post("/{persona_id}/messages", status_code=202)
async def post_message(
    body: MessageIn, persona_id: OwnedPersona, who: Caller, svc: ServicesDep
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
async def persona_state(persona_id: OwnedPersona, svc: ServicesDep) -> PersonaView:
    """The persona's state, mood and counters."""
    return await svc.personas.view(persona_id)


@router.get(
    "/{persona_id}/state/stream", response_class=StreamingResponse, responses=STREAM_RESPONSES
)
async def persona_state_stream(
    persona_id: OwnedPersona, svc: ServicesDep, max_events: int | None = MaxEvents
) -> StreamingResponse:
    """Server-Sent Events: a ``state`` event each time the persona's view changes."""
    return await view_stream(lambda: svc.personas.view(persona_id), "state", max_events)


@router.get("/{persona_id}/inbox")
async def persona_inbox(
    persona_id: OwnedPersona, svc: ServicesDep, n: int = Query(default=10, ge=0, le=100)
) -> list[InboxView]:
    """The next ``n`` items the persona will take."""
    return await svc.personas.inbox(persona_id, n)


@router.get("/{persona_id}/outputs")
async def persona_outputs(
    persona_id: OwnedPersona, page: PageQuery, svc: ServicesDep
) -> Page[OutcomeRecord]:
    """The persona's replies and other outputs, newest first."""
    records = await asyncio.to_thread(svc.store.recent_outcomes, persona_id, 1000)
    return paginate(records, page)


@router.get("/{persona_id}/overflow")
async def persona_overflow(
    persona_id: OwnedPersona, page: PageQuery, svc: ServicesDep
) -> Page[ShedRecord]:
    """Items the persona shed (inbox overflow, stops), in the order recorded."""
    return paginate(await asyncio.to_thread(svc.store.shed_items, persona_id), page)


@router.post("/{persona_id}/triggers/{event}")
async def fire_trigger(event: str, persona_id: OwnedPersona, svc: ServicesDep) -> dict[str, str]:
    """Fire an activation or deactivation event; the life is then ``live`` or ``paused``."""
    if len(event) > 64:
        raise Problem(422, "invalid request: event: at most 64 characters")
    return {"life": await svc.personas.trigger(persona_id, event)}


@router.get("/{persona_id}/scope")
async def persona_scope(persona_id: OwnedPersona, svc: ServicesDep) -> Scope:
    """The resources granted to the persona."""
    return await svc.agents.scope(persona_id)


@router.post("/{persona_id}/grants")
async def grant(grants: list[Grant], persona_id: OwnedPersona, svc: ServicesDep) -> Scope:
    """Grant resources of the persona's entity; its scope after."""
    if len(grants) > 64:
        raise Problem(422, "invalid request: at most 64 grants at once")
    return await svc.agents.grant(persona_id, grants)


@router.delete("/{persona_id}/grants/{resource}")
async def revoke(resource: str, persona_id: OwnedPersona, svc: ServicesDep) -> dict[str, bool]:
    """Revoke one grant."""
    return {"revoked": await svc.agents.revoke(persona_id, resource[:64])}
