"""Console pages of instance negotiations: start one, then each round's proposals side by
side with cost and trade-offs, the answers (accept, modify, reject, add a constraint), the
round history and why a round had no proposal."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError

from api.auth import Principal
from api.console.auth import Who
from api.console.render import FIELD_MAX, page
from api.owners import allow_workflow_owner
from api.services import services
from clients.api import PersonaError
from personas.ids import negotiation_workflow_id
from personas.instance.negotiation import Answer
from personas.instance.requirements import Constraint
from runtime import search_attributes as sa

router = APIRouter(prefix="/console/negotiations")
ANSWER: TypeAdapter[Any] = TypeAdapter(Answer)
#: Negotiations the list shows at most.
LISTED = 50
NUMBERS = ("max_hourly", "min_vcpu", "min_memory_gib", "replicas")


async def _recent(request: Request, who: Principal) -> list[dict[str, str]]:
    query = f"{sa.PERSONA_KIND.name} = 'instance'"
    if not who.admin:
        query += f" AND {sa.ENTITY_ID.name} = '{who.entity_id}'"
    found = []
    prefix = negotiation_workflow_id("")
    async for wf in services(request).instances.client.list_workflows(query, limit=LISTED):
        status = wf.status.name.lower() if wf.status else ""
        found.append({"id": wf.id.removeprefix(prefix), "status": status})
    return found


@router.get("", response_class=HTMLResponse)
async def negotiations_page(request: Request, who: Principal = Who) -> Response:
    """The entity's negotiations and the start form."""
    return page(request, "negotiations.html", recent=await _recent(request, who), error="")


@router.post("", response_class=HTMLResponse)
async def start(request: Request, who: Principal = Who) -> Response:
    """Start a negotiation from a description of the workload."""
    form = {k: str(v)[:FIELD_MAX] for k, v in (await request.form()).items()}
    entity_id = who.entity_id or form.get("entity_id", "")
    fields = {
        "negotiation_id": f"n-{uuid.uuid4().hex[:10]}",
        "entity_id": entity_id,
        "name": form.get("name", "").strip(),
        "text": form.get("text", "").strip(),
        "config": {"provision": bool(form.get("provision"))},
    }
    try:
        negotiation_id = await services(request).instances.start(**fields)
    except PersonaError as err:
        return page(request, "negotiations.html", 422, recent=await _recent(request, who),
                    error=str(err))  # fmt: skip
    return RedirectResponse(f"/console/negotiations/{negotiation_id}", status_code=303)


async def _owned(request: Request, who: Principal, negotiation_id: str) -> str:
    nid = negotiation_id[:64]
    await allow_workflow_owner(
        services(request),
        who,
        negotiation_workflow_id(nid),
        f"unknown negotiation {nid}",
        f"negotiation {nid}",
    )
    return nid


@router.get("/{negotiation_id}", response_class=HTMLResponse)
async def detail(request: Request, negotiation_id: str, who: Principal = Who) -> Response:
    """A negotiation's page; its rounds panel refreshes itself."""
    nid = await _owned(request, who, negotiation_id)
    return page(request, "negotiation.html", negotiation_id=nid,
                workflow_id=negotiation_workflow_id(nid))  # fmt: skip


@router.get("/{negotiation_id}/rounds", response_class=HTMLResponse)
async def rounds(request: Request, negotiation_id: str, who: Principal = Who) -> Response:
    """The rounds panel: the current proposals and the forms to answer them, the history."""
    nid = await _owned(request, who, negotiation_id)
    view = await services(request).instances.view(nid)
    return page(request, "negotiation_rounds.html", view=view, error="")


def answer_of(form: dict[str, str]) -> Any:
    """The answer a form describes (ValidationError when it describes none)."""
    kind = form.get("kind", "")
    body: dict[str, Any] = {"kind": kind, "round": int(form.get("round") or 0)}
    if kind in ("accept", "modify") and form.get("proposal_id"):
        body["proposal_id"] = form["proposal_id"]
    if kind == "modify":
        changes: dict[str, Any] = {k: float(form[k]) for k in NUMBERS if form.get(k)}
        if "replicas" in changes:
            changes["replicas"] = int(changes["replicas"])
        if form.get("region"):
            changes["region"] = form["region"]
        body["changes"] = changes
    elif kind == "reject":
        body |= {"reason": form.get("reason") or "none suits", "final": bool(form.get("final"))}
    elif kind == "add_constraint":
        value: Any = form.get("value", "")
        try:
            value = float(value)
        except ValueError:
            value = {"true": True, "false": False}.get(value.lower(), value)
        body["constraint"] = Constraint.model_validate({"kind": form.get("constraint"),
                                                        "value": value})  # fmt: skip
    return ANSWER.validate_python(body)


@router.post("/{negotiation_id}/answers", response_class=HTMLResponse)
async def answer(request: Request, negotiation_id: str, who: Principal = Who) -> Response:
    """Send an answer; the rounds panel after it (or the refusal above the current one)."""
    nid = await _owned(request, who, negotiation_id)
    form = {k: str(v)[:FIELD_MAX] for k, v in (await request.form()).items()}
    instances = services(request).instances
    try:
        view = await instances.answer(nid, answer_of(form), wait=True)
    except (ValidationError, ValueError) as err:
        detail = err.errors()[0]["msg"] if isinstance(err, ValidationError) else str(err)
        return page(request, "negotiation_rounds.html", 422, view=await instances.view(nid),
                    error=f"invalid answer: {detail}")  # fmt: skip
    except PersonaError as err:
        return page(request, "negotiation_rounds.html", 409, view=await instances.view(nid),
                    error=str(err))  # fmt: skip
    return page(request, "negotiation_rounds.html", view=view or await instances.view(nid),
                error="")  # fmt: skip
