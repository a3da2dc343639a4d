"""App sessions: requestPersona (202 + status URL), status, usage (and its stream), run,
release."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from activities.app.contracts import RunResult
from api.auth import Caller, allow
from api.idempotency import IdempotencyHeader, Outcome, idempotent
from api.models import RunIn, SessionIn, SessionUsage, TokenIn
from api.owners import OwnedSession, app_persona_entity
from api.services import ServicesDep
from api.streams import STREAM_RESPONSES, MaxEvents, view_stream
from personas.app.views import SessionView

router = APIRouter(prefix="/v1/app-sessions", tags=["app sessions"])


@router.post("", status_code=202, response_model=SessionView)
async def request_session(
    request: Request,
    body: SessionIn,
    who: Caller,
    svc: ServicesDep,
    key: str | None = IdempotencyHeader,
) -> JSONResponse:
    """requestPersona: start a session for the token's user; poll the Location."""
    allow(who, await app_persona_entity(svc, body.persona_id), f"app persona {body.persona_id}")

    async def run(_: str) -> Outcome:
        view = await svc.apps.request(**dict(body), wait=False)  # SessionIn: its arguments
        return 202, view.model_dump(mode="json"), f"/v1/app-sessions/{view.session_id}"

    return await idempotent(request, who, svc, key, run)


@router.get("/{session_id}")
async def session_status(session_id: OwnedSession, svc: ServicesDep) -> SessionView:
    """The session's state, steps and compensations."""
    return await svc.apps._view(session_id)


@router.get("/{session_id}/usage")
async def session_usage(session_id: OwnedSession, svc: ServicesDep) -> SessionUsage:
    """The session's recent periodic usage samples (CPU, memory, processes, egress)."""
    return SessionUsage.of(await svc.apps._view(session_id))


@router.get(
    "/{session_id}/usage/stream", response_class=StreamingResponse, responses=STREAM_RESPONSES
)
async def session_usage_stream(
    session_id: OwnedSession, svc: ServicesDep, max_events: int | None = MaxEvents
) -> StreamingResponse:
    """Server-Sent Events: a ``usage`` event each time a new sample arrives or the session's
    state changes."""

    async def read() -> SessionUsage:
        return SessionUsage.of(await svc.apps._view(session_id))

    return await view_stream(read, "usage", max_events)


@router.post("/{session_id}/run")
async def run_command(body: RunIn, session_id: OwnedSession, svc: ServicesDep) -> RunResult:
    """Run a command in the session (its user's token)."""
    return await svc.apps.run(session_id, body.token, body.argv)


@router.post("/{session_id}/release")
async def release_session(body: TokenIn, session_id: OwnedSession, svc: ServicesDep) -> SessionView:
    """releasePersona: take everything back (its user's token)."""
    return await svc.apps.release(session_id, body.token)
