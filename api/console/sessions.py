"""Console pages of app sessions: request one for a user's token, watch its state and usage,
run a command in it and release it. The user's token is asked for by each form that needs
it and kept nowhere."""

from __future__ import annotations

import shlex

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import Principal, allow
from api.console.auth import Who
from api.console.render import FIELD_MAX, page
from api.owners import app_persona_entity
from api.services import services
from clients.api import PersonaError
from personas.app.views import SessionView
from personas.ids import session_workflow_id

router = APIRouter(prefix="/console/app-sessions")
TOKEN_MAX = 8192


@router.get("", response_class=HTMLResponse)
async def sessions_page(request: Request, who: Principal = Who) -> Response:
    """The request form."""
    return page(request, "sessions.html", error="", form={})


@router.post("", response_class=HTMLResponse)
async def request_session(
    request: Request,
    persona_id: str = Form(min_length=1, max_length=255),
    token: str = Form(min_length=1, max_length=TOKEN_MAX),
    who: Principal = Who,
) -> Response:
    """requestPersona for the token's user; on to the session's page."""
    svc = services(request)
    allow(who, await app_persona_entity(svc, persona_id), f"app persona {persona_id}")
    try:
        view = await svc.apps.request(persona_id, token.strip(), wait=False)
    except PersonaError as err:
        return page(request, "sessions.html", 422, error=str(err), form={"persona_id": persona_id})
    return RedirectResponse(f"/console/app-sessions/{view.session_id}", status_code=303)


async def _owned(request: Request, who: Principal, session_id: str) -> SessionView:
    svc = services(request)
    view = await svc.apps._view(session_id[:255])
    allow(who, await app_persona_entity(svc, view.persona_id), f"session {session_id}")
    return view


@router.get("/{session_id}", response_class=HTMLResponse)
async def detail(request: Request, session_id: str, who: Principal = Who) -> Response:
    """A session's page; its state panel refreshes itself."""
    view = await _owned(request, who, session_id)
    return page(request, "session.html", view=view,
                workflow_id=session_workflow_id(view.session_id))  # fmt: skip


@router.get("/{session_id}/state", response_class=HTMLResponse)
async def state(request: Request, session_id: str, who: Principal = Who) -> Response:
    """The state panel: state, steps, compensations and the usage charts."""
    return page(request, "session_state.html", view=await _owned(request, who, session_id))


@router.post("/{session_id}/run", response_class=HTMLResponse)
async def run(
    request: Request,
    session_id: str,
    command: str = Form(min_length=1, max_length=FIELD_MAX),
    token: str = Form(min_length=1, max_length=TOKEN_MAX),
    who: Principal = Who,
) -> Response:
    """Run a command (split like a shell would, nothing expanded); its output."""
    view = await _owned(request, who, session_id)
    try:
        argv = shlex.split(command)[:64]
        result = await services(request).apps.run(view.session_id, token.strip(), argv)
    except ValueError as err:
        return page(request, "notice.html", 422, error=f"invalid command: {err}")
    except PersonaError as err:
        return page(request, "notice.html", 409, error=str(err))
    return page(request, "run_result.html", result=result)


@router.post("/{session_id}/release", response_class=HTMLResponse)
async def release(
    request: Request,
    session_id: str,
    token: str = Form(min_length=1, max_length=TOKEN_MAX),
    who: Principal = Who,
) -> Response:
    """releasePersona; the state panel after it."""
    view = await _owned(request, who, session_id)
    try:
        view = await services(request).apps.release(view.session_id, token.strip())
    except PersonaError as err:
        return page(request, "notice.html", 409, error=str(err))
    return page(request, "session_state.html", view=view)
