"""Funding: budgets, balances, cycles, top-ups, usage, postings, audit and rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from activities.funding.ledger import Posting
from activities.funding.metering import UsageRecord
from activities.funding.performance import RulesVersionInfo
from activities.store.db import Scope
from api.auth import Caller, Principal, admin_only, entity_filter
from api.idempotency import IdempotencyHeader, Outcome, idempotent
from api.models import AllocationIn, AmountIn, AuditVerdict, Balance, RulesIn, Started, TopUpIn
from api.owners import OwnedEntity, OwnedPersona, persona_path
from api.pagination import Page, PageQuery, paginate
from api.services import Services, ServicesDep
from personas.funding.audit import AuditEntry
from personas.funding.cycle import FundingView
from personas.funding.rules import RuleSet

router = APIRouter(tags=["funding"])


@router.post("/v1/entities/{entity_id}/budget/deposits", status_code=201, response_model=Posting)
async def fund_entity(
    request: Request,
    body: AmountIn,
    entity_id: OwnedEntity,
    who: Caller,
    svc: ServicesDep,
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
    persona_id: OwnedPersona,
    who: Caller,
    svc: ServicesDep,
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
async def balance(persona_id: OwnedPersona, svc: ServicesDep) -> Balance:
    """The persona's spendable balance."""
    return Balance(persona_id=persona_id, balance_micros=await svc.funding.balance(persona_id))


@router.post("/v1/personas/{persona_id}/funding", status_code=202)
async def start_cycle(body: AllocationIn, persona_id: OwnedPersona, svc: ServicesDep) -> Started:
    """Start the persona's funding cycle with an allocation per period."""
    return Started(workflow_id=await svc.funding.start(persona_id, body.allocation))


@router.get("/v1/personas/{persona_id}/funding")
async def cycle_view(persona_id: OwnedPersona, svc: ServicesDep) -> FundingView:
    """The funding cycle's state."""
    return await svc.funding.view(persona_id)


def scope_query(
    persona_id: str | None = Query(default=None, max_length=255),
    entity_id: str | None = Query(default=None, max_length=128),
    since: datetime | None = None,
    until: datetime | None = None,
) -> Scope:
    """The ``persona_id``, ``entity_id``, ``since`` and ``until`` query parameters."""
    return Scope(persona_id=persona_id, entity_id=entity_id, since=since, until=until)


#: A route parameter that is the (persona, entity, period) filter of a query.
ScopeQuery = Annotated[Scope, Depends(scope_query)]


async def callers_scope(scope: Scope, who: Principal, svc: Services) -> Scope:
    """``scope`` as far as the caller may read: its persona must be one of the caller's
    entity and an entity key reads its own entity only (administrators: any)."""
    persona_id = scope.get("persona_id")
    if persona_id is not None:
        await persona_path(persona_id, who, svc)
    return Scope(
        persona_id=persona_id,
        entity_id=entity_filter(who, scope.get("entity_id")),
        since=scope.get("since"),
        until=scope.get("until"),
    )


@router.get("/v1/usage")
async def usage(
    scope: ScopeQuery, who: Caller, page: PageQuery, svc: ServicesDep
) -> Page[UsageRecord]:
    """Usage events by persona, entity and period (an entity key: its own entity only)."""
    return paginate(await svc.funding.usage(**await callers_scope(scope, who, svc)), page)


@router.get("/v1/audit")
async def audit(
    scope: ScopeQuery, who: Caller, page: PageQuery, svc: ServicesDep
) -> Page[AuditEntry]:
    """Audit entries (postings, rules, keys) by persona, entity and time."""
    return paginate(await svc.funding.audit(**await callers_scope(scope, who, svc)), page)


@router.get("/v1/audit/verify")
async def verify_audit(who: Caller, svc: ServicesDep) -> AuditVerdict:
    """Verify the whole audit chain (administrators)."""
    admin_only(who, "verifying the audit chain")
    ok, detail = await svc.funding.verify_audit()
    return AuditVerdict(ok=ok, detail=detail)


@router.get("/v1/funding/rules")
async def rules(who: Caller, svc: ServicesDep) -> RuleSet:
    """The funding rules in force (administrators)."""
    admin_only(who, "reading the funding rules")
    return await svc.funding.rules()


@router.get("/v1/funding/rules/versions")
async def rule_versions(
    who: Caller, svc: ServicesDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[RulesVersionInfo]:
    """The newest stored versions of the rules, who stored each and when (administrators)."""
    admin_only(who, "reading the funding rules")
    return await svc.funding.rule_versions(limit)


@router.get("/v1/funding/rules/versions/{version}")
async def rules_version(
    version: Annotated[int, Path(ge=1, le=2**31 - 1)], who: Caller, svc: ServicesDep
) -> RuleSet:
    """One stored version of the rules document (administrators)."""
    admin_only(who, "reading the funding rules")
    return await svc.funding.rules_version(version)


@router.put("/v1/funding/rules")
async def set_rules(body: RulesIn, who: Caller, svc: ServicesDep) -> RuleSet:
    """A new version of the rules (administrators, signed by a funding admin's secret)."""
    admin_only(who, "changing the funding rules")
    return await svc.funding.set_rules(dict(body.document), body.admin_secret)
