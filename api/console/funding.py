"""The console's funding page: balances, spend per day, the audit with its verification and
(administrators) the rules editor, which shows why a document is refused."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from activities.funding.ledger import UnknownAccount, entity_budget
from api.auth import Principal
from api.console.auth import Who
from api.console.render import page
from api.services import services
from clients.api import PersonaError

router = APIRouter(prefix="/console/funding")
#: Audit entries and personas the page lists at most.
SHOWN = 50
RULES_MAX = 64_000


async def _context(request: Request, who: Principal) -> dict[str, Any]:
    svc = services(request)
    entity = who.entity_id
    ledger = svc.funding.funding.ledger
    try:
        budget = await asyncio.to_thread(ledger.balance, entity_budget(entity or ""))
    except UnknownAccount:
        budget = 0
    personas = (await svc.personas.list_personas(entity))[:SHOWN]
    balances = [(p, await svc.funding.balance(p.persona_id) / 1e6) for p in personas]
    per_day: dict[str, int] = defaultdict(int)
    for event in await svc.funding.usage(entity_id=entity):
        per_day[event.occurred_at.date().isoformat()] += event.price
    days = sorted(per_day)
    audit = (await svc.funding.audit(entity_id=entity))[-SHOWN:]
    context: dict[str, Any] = {
        "budget": budget / 1e6, "balances": balances, "days": days,
        "spend": [per_day[d] / 1e6 for d in days], "audit": list(reversed(audit)),
        "verdict": None, "rules": None, "rules_error": "", "rules_text": "",
    }  # fmt: skip
    if who.admin:
        context["verdict"] = await svc.funding.verify_audit()
        rules = await svc.funding.rules()
        context["rules"] = rules
        context["rules_text"] = json.dumps(rules.model_dump(mode="json"), indent=2)
    return context


@router.get("", response_class=HTMLResponse)
async def funding_page(request: Request, who: Principal = Who) -> Response:
    """Balances, spend per day, the audit; the rules for administrators."""
    return page(request, "funding.html", **await _context(request, who))


@router.post("/rules", response_class=HTMLResponse)
async def set_rules(
    request: Request,
    document: str = Form(min_length=1, max_length=RULES_MAX),
    admin_secret: str = Form(min_length=1, max_length=256),
    who: Principal = Who,
) -> Response:
    """A new rules version (administrators, signed by a funding admin's secret); the page with
    the refusal when the document is not valid."""
    context = await _context(request, who)
    if not who.admin:
        return page(
            request,
            "funding.html",
            403,
            **context
            | {"rules_error": "changing the funding rules needs an administrator's API key"},
        )
    try:
        await services(request).funding.set_rules(json.loads(document), admin_secret)
    except (ValueError, PersonaError) as err:
        return page(request, "funding.html", 422,
                    **context | {"rules_error": str(err), "rules_text": document})  # fmt: skip
    return page(request, "funding.html", **await _context(request, who) | {"saved": True})
