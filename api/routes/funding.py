"""Funding: budgets, balances, cycles, top-ups, usage, postings, audit and rules."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from activities.funding.ledger import Posting
from activities.funding.metering import UsageRecord
from api.auth import Principal, admin_only, entity_filter, principal
from api.idempotency import IdempotencyHeader, Outcome, idempotent
from api.models import AllocationIn, AmountIn, AuditVerdict, Balance, RulesIn, Started, TopUpIn
from api.owners import entity_path, persona_path
from api.pagination import Page, PageParams, page_params, paginate
from api.services import Services, services
from personas.funding.audit import AuditEntry
from personas.funding.cycle import FundingView
from personas.funding.rules import RuleSet

router = APIRouter(tags=["funding"])


@router.post("/v1/entities/{entity_id}/budget/deposits", status_code=201, response_model=Posting)
async def fund_entity(
    request: Request,
    body: AmountIn,
    entity_id: str = Depends(entity_path),
    who: Principal = Depends(principal),
    svc: Services = Depends(services),
    key: str | None = IdempotencyHeader,
) -> JSONResponse:
    """Deposit into the entity's allocated budget (once per Idempotency-Key)."""

    async def run(ledger_key: str) -> Outcome:
        posting = await svc.funding.fund_entity(ledger_key, entity_id, body.amount, who.actor)
        return 201, posting.model_dump(mode="json"), ""

    return await idempotent(request, who, svc, key, run)


@router.post("/v1/personas/{persona_id}/top-ups", status_code=201, response_model=Posting)
async def top_up(
    request: Request,
    body: TopUpIn,
    persona_id: str = Depends(persona_path),
    who: Principal = Depends(principal),
    svc: Services = Depends(services),
    key: str | None = IdempotencyHeader,
) -> JSONResponse:
    """Move money from an account to the persona, within its funding limit (administrators:
    the account may be any entity's)."""
    admin_only(who, "a top-up")

    async def run(ledger_key: str) -> Outcome:
        posting = await svc.funding.top_up(ledger_key, persona_id, body.from_account, body.amount)
        return 201, posting.model_dump(mode="json"), ""

    return await idempotent(request, who, svc, key, run)


@router.get("/v1/personas/{persona_id}/balance")
async def balance(
    persona_id: str = Depends(persona_path), svc: Services = Depends(services)
) -> Balance:
    """The persona's spendable balance."""
    return Balance(persona_id=persona_id, balance_micros=await svc.funding.balance(persona_id))


@router.post("/v1/personas/{persona_id}/funding", status_code=202)
async def start_cycle(
    body: AllocationIn, persona_id: str = Depends(persona_path), svc: Services = Depends(services)
) -> Started:
    """Start the persona's funding cycle with an allocation per period."""
    return Started(workflow_id=await svc.funding.start(persona_id, body.allocation))


@router.get("/v1/personas/{persona_id}/funding")
async def cycle_view(
    persona_id: str = Depends(persona_path), svc: Services = Depends(services)
) -> FundingView:
    """The funding cycle's state."""
    return await svc.funding.view(persona_id)


@router.get("/v1/usage")
async def usage(
    persona_id: str | None = Query(default=None, max_length=255),
    entity_id: str | None = Query(default=None, max_length=128),
    since: datetime | None = None,
    until: datetime | None = None,
    who: Principal = Depends(principal),
    page: PageParams = Depends(page_params),
    svc: Services = Depends(services),
) -> Page[UsageRecord]:
    """Usage events by persona, entity and period (an entity key: its own entity only)."""
    if persona_id is not None:
        await persona_path(persona_id, who, svc)
    rows = await svc.funding.usage(
        persona_id=persona_id, entity_id=entity_filter(who, entity_id), since=since, until=until
    )
    return paginate(rows, page)


@router.get("/v1/audit")
async def audit(
    persona_id: str | None = Query(default=None, max_length=255),
    entity_id: str | None = Query(default=None, max_length=128),
    since: datetime | None = None,
    until: datetime | None = None,
    who: Principal = Depends(principal),
    page: PageParams = Depends(page_params),
    svc: Services = Depends(services),
) -> Page[AuditEntry]:
    """Audit entries (postings, rules, keys) by persona, entity and time."""
    if persona_id is not None:
        await persona_path(persona_id, who, svc)
    rows = await svc.funding.audit(
        persona_id=persona_id, entity_id=entity_filter(who, entity_id), since=since, until=until
    )
    return paginate(rows, page)


@router.get("/v1/audit/verify")
async def verify_audit(
    who: Principal = Depends(principal), svc: Services = Depends(services)
) -> AuditVerdict:
    """Verify the whole audit chain (administrators)."""
    admin_only(who, "verifying the audit chain")
    ok, detail = await svc.funding.verify_audit()
    return AuditVerdict(ok=ok, detail=detail)


@router.get("/v1/funding/rules")
async def rules(who: Principal = Depends(principal), svc: Services = Depends(services)) -> RuleSet:
    """The funding rules in force (administrators)."""
    admin_only(who, "reading the funding rules")
    return await svc.funding.rules()


@router.put("/v1/funding/rules")
async def set_rules(
    body: RulesIn, who: Principal = Depends(principal), svc: Services = Depends(services)
) -> RuleSet:
    """A new version of the rules (administrators, signed by a funding admin's secret)."""
    admin_only(who, "changing the funding rules")
    return await svc.funding.set_rules(dict(body.document), body.admin_secret)
