"""Console pages of AI personas: the list and the create form with inline validation, and a
persona's live detail (state, inbox, replies, balance and spend) with a message form."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from activities.store import UnknownEntity, UnknownPersona
from api.auth import Principal, allow
from api.console.auth import Who
from api.console.render import FIELD_MAX, field_errors, listed, page
from api.problems import Problem
from api.services import Services, services
from clients.api import PersonaError
from personas.ids import persona_workflow_id
from personas.models import AIPersonaProfile, check_access_scope

router = APIRouter(prefix="/console/personas")
#: Replies and usage events a detail page shows at most.
RECENT = 20
FORM_FIELDS = ("entity_id", "name", "base_persona", "specialization", "access_scope",
               "funding_limit", "activation_triggers", "deactivation_triggers")  # fmt: skip


def _profile_fields(form: dict[str, str]) -> dict[str, Any]:
    """The profile a create form describes (lists from comma-separated fields)."""
    fields: dict[str, Any] = {k: form.get(k, "").strip()[:FIELD_MAX] for k in FORM_FIELDS}
    for name in ("access_scope", "activation_triggers", "deactivation_triggers"):
        fields[name] = listed(fields[name])
    fields["funding_limit"] = fields["funding_limit"] or "0"
    return fields


async def _check(svc: Services, who: Principal, form: dict[str, str]) -> dict[str, str]:
    """Every problem of a create form, by field (empty when it may be created)."""
    fields = _profile_fields(form)
    errors: dict[str, str] = {}
    if not (who.admin or fields["entity_id"] == who.entity_id):
        errors["entity_id"] = f"this key may only create personas of entity {who.entity_id}"
    try:
        profile = AIPersonaProfile.model_validate(fields)
    except ValidationError as err:
        return errors | field_errors(err)
    try:
        permitted = await asyncio.to_thread(svc.store.permitted_resources, profile.entity_id)
        check_access_scope(profile, permitted)
    except UnknownEntity:
        errors["entity_id"] = f"unknown entity {profile.entity_id}"
    except ValueError as err:
        errors["access_scope"] = str(err)
    overlap = set(profile.activation_triggers) & set(profile.deactivation_triggers)
    if overlap:
        errors["deactivation_triggers"] = f"{', '.join(sorted(overlap))} cannot also activate"
    return errors


async def _form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: str(v)[:FIELD_MAX] for k, v in data.items() if k in (*FORM_FIELDS, "start")}


async def _resources(svc: Services, who: Principal) -> list[str]:
    if who.entity_id is None:
        return []
    return sorted(await asyncio.to_thread(svc.store.permitted_resources, who.entity_id))


@router.get("", response_class=HTMLResponse)
async def personas_page(request: Request, who: Principal = Who) -> Response:
    """The caller's personas and the create form."""
    svc = services(request)
    records = await svc.personas.list_personas(None if who.admin else who.entity_id)
    form = {"entity_id": who.entity_id or "", "funding_limit": "0"}
    return page(request, "personas.html", records=records[:200], form=form, errors={},
                resources=await _resources(svc, who))  # fmt: skip


@router.post("/validate", response_class=HTMLResponse)
async def validate(request: Request, who: Principal = Who) -> Response:
    """The form's problems, rendered inline as the user types (htmx)."""
    form = await _form(request)
    errors = await _check(services(request), who, form)
    return page(request, "persona_form_errors.html", errors=errors)


@router.post("", response_class=HTMLResponse)
async def create(request: Request, who: Principal = Who) -> Response:
    """Create the persona (and start its life when asked); on to its page."""
    svc = services(request)
    form = await _form(request)
    errors = await _check(svc, who, form)
    if not errors:
        try:
            record = await svc.personas.create_persona(_profile_fields(form), who.actor)
        except PersonaError as err:
            errors = {"form": str(err)}
    if errors:
        records = await svc.personas.list_personas(None if who.admin else who.entity_id)
        return page(request, "personas.html", 422, records=records[:200], form=form,
                    errors=errors, resources=await _resources(svc, who))  # fmt: skip
    if form.get("start"):
        await svc.personas.start_life(record.persona_id)
    return RedirectResponse(f"/console/personas/{record.persona_id}", status_code=303)


async def _owned(request: Request, who: Principal, persona_id: str) -> Any:
    try:
        record = await asyncio.to_thread(services(request).store.get_persona, persona_id[:255])
    except UnknownPersona:
        raise Problem(404, f"unknown persona {persona_id[:255]}") from None
    allow(who, record.entity_id, f"persona {persona_id}")
    return record


@router.get("/{persona_id}", response_class=HTMLResponse)
async def detail(request: Request, persona_id: str, who: Principal = Who) -> Response:
    """A persona's page: its profile, a live panel and the message form."""
    record = await _owned(request, who, persona_id)
    return page(request, "persona.html", record=record,
                workflow_id=persona_workflow_id(record.persona_id))  # fmt: skip


@router.get("/{persona_id}/live", response_class=HTMLResponse)
async def live(request: Request, persona_id: str, who: Principal = Who) -> Response:
    """The live panel: state, inbox, replies, balance and spend (htmx polls it)."""
    record = await _owned(request, who, persona_id)
    svc = services(request)
    view = inbox = None
    note = ""
    try:
        view = await svc.personas.view(record.persona_id)
        inbox = await svc.personas.inbox(record.persona_id, 10)
    except PersonaError as err:
        note = str(err)
    usage = await svc.funding.usage(persona_id=record.persona_id)
    spend, total = [], 0
    for event in usage[-100:]:
        total += event.price
        spend.append(total / 1e6)
    return page(request, "persona_live.html", record=record, view=view, inbox=inbox or [],
                note=note, replies=await svc.agents.replies(record.persona_id, RECENT), spend=spend,
                balance=await svc.funding.balance(record.persona_id) / 1e6)  # fmt: skip


@router.post("/{persona_id}/messages", response_class=HTMLResponse)
async def post_message(
    request: Request,
    persona_id: str,
    text: str = Form(min_length=1, max_length=FIELD_MAX),
    who: Principal = Who,
) -> Response:
    """Deliver a message from the signed-in caller; a receipt line."""
    record = await _owned(request, who, persona_id)
    try:
        item = await services(request).personas.post_to_persona(
            record.persona_id, text, who.actor, human=True
        )
    except PersonaError as err:
        return page(request, "notice.html", 422, error=str(err))
    return page(request, "notice.html", message=f"delivered as item {item.item_id}")


@router.post("/{persona_id}/start", response_class=HTMLResponse)
async def start(request: Request, persona_id: str, who: Principal = Who) -> Response:
    """Start the persona's life."""
    record = await _owned(request, who, persona_id)
    await services(request).personas.start_life(record.persona_id)
    return RedirectResponse(f"/console/personas/{record.persona_id}", status_code=303)
