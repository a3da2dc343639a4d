"""Typed client of the funding system: cycles, money, rules, keys, audit, usage and ads.

Every refusal is a :class:`clients.api.PersonaError` with a one-line message; amounts are
decimal strings validated here, so nothing is posted from bad input.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, Unpack

from pydantic import ValidationError
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleSpec,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from activities.funding.admins import AdminStore
from activities.funding.ads import AdService
from activities.funding.audit_log import AuditLog
from activities.funding.contracts import RotateKeyRequest
from activities.funding.db import Database, FundingError
from activities.funding.keys import IssuedKey, KeyInfo, KeyStore
from activities.funding.ledger import (
    Posting,
    UnknownAccount,
    entity_budget,
    persona_balance,
    source_account,
)
from activities.funding.metering import UsageRecord
from activities.funding.performance import PerformanceStore, RulesVersionInfo
from activities.funding.service import Funding
from activities.persona_start import PersonaDocument
from activities.store import Store, StoreError
from activities.store.db import Scope
from clients.api import PersonaError, ServiceClient, _raise_not_found, explain, query_live, refusals
from personas.funding.ads import Ad
from personas.funding.audit import AuditEntry
from personas.funding.cycle import CycleConfig, FundingCycleInput, FundingView
from personas.funding.metrics import PerformanceOutcome
from personas.funding.money import AmountError, parse_amount, to_micros
from personas.funding.rules import RulesError, RuleSet
from personas.ids import funding_workflow_id
from workflows.funding_cycle import FundingCycle, KeyRotation

T = TypeVar("T")


def rotation_schedule_id(persona_id: str) -> str:
    """The id of a persona's key-rotation schedule."""
    return f"key-rotation-{persona_id}"


def amount(value: object) -> int:
    """Parse a user's amount into micro-units; :class:`PersonaError` says what is wrong."""
    try:
        return parse_amount(value)
    except AmountError as err:
        raise PersonaError(str(err)) from None


class FundingClient(ServiceClient):
    """The funding operations, over the store's database and a Temporal client."""

    def __init__(self, client: Client, store: Store, task_queue: str) -> None:
        """Use ``store``'s database (migrated) and ``client`` on ``task_queue``."""
        super().__init__(client, store, task_queue)
        self.db = Database(store.engine)
        self.funding = Funding(self.db)
        self.keys = KeyStore(self.db)
        self.admins = AdminStore(self.db)
        self.audit_log = AuditLog(self.db)
        self.performance = PerformanceStore(self.db)
        self.ads = AdService(self.db, self.funding.ledger)

    def close(self) -> None:
        """Dispose the database engine."""
        self.db.dispose()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args)
        except (FundingError, StoreError, RulesError, AmountError) as err:
            raise PersonaError(str(err)) from None

    async def _persona(self, persona_id: str) -> tuple[str, int]:
        record = await self._run(self.store.get_persona, persona_id)
        limit = PersonaDocument.model_validate(record.body).profile.funding_limit
        return record.entity_id, to_micros(limit)

    def _handle(self, persona_id: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(funding_workflow_id(persona_id))

    # ------------------------------------------------------------------ cycles
    async def start(
        self, persona_id: str, allocation: str, config: CycleConfig | None = None
    ) -> str:
        """Start the persona's funding cycle (no-op when running); its limit is the profile's."""
        entity_id, limit = await self._persona(persona_id)
        try:
            input = FundingCycleInput(
                persona_id=persona_id,
                entity_id=entity_id,
                funding_limit=limit,
                allocation=amount(allocation),
                config=config or CycleConfig(),
            )
        except ValidationError as err:
            raise PersonaError(explain(err)) from None
        await self._run(self.funding.setup_persona, entity_id, persona_id)
        handle = await self.client.start_workflow(
            FundingCycle.run,
            input,
            id=funding_workflow_id(persona_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        return handle.id

    async def view(self, persona_id: str) -> FundingView:
        """The funding cycle's state."""
        try:
            view: FundingView = await query_live(self._handle(persona_id), FundingCycle.view)
        except RPCError as err:
            _raise_not_found(err, f"persona {persona_id} has no funding cycle")
        return view

    async def run_now(self, persona_id: str) -> None:
        """Run a cycle now."""
        try:
            await self._handle(persona_id).signal(FundingCycle.run_cycle)
        except RPCError as err:
            _raise_not_found(err, f"persona {persona_id} has no funding cycle")

    async def set_allocation(self, persona_id: str, value: str) -> int:
        """Set the allocation per period; refused beyond the funding limit."""
        micros = amount(value)
        try:
            with refusals(f"allocation of persona {persona_id}"):
                result: int = await self._handle(persona_id).execute_update(
                    FundingCycle.set_allocation, micros
                )
        except RPCError as err:
            _raise_not_found(err, f"persona {persona_id} has no funding cycle")
        return result

    async def stop(self, persona_id: str) -> FundingView:
        """Stop the cycle and wait for it to end; returns its final view."""
        handle = self.client.get_workflow_handle_for(
            FundingCycle.run, funding_workflow_id(persona_id)
        )
        try:
            await handle.signal(FundingCycle.stop)
            view: FundingView = await handle.result()
        except RPCError as err:
            _raise_not_found(err, f"persona {persona_id} has no funding cycle")
        return view

    # ------------------------------------------------------------------ money
    async def fund_entity(self, key: str, entity_id: str, value: str, actor: str) -> Posting:
        """Deposit into an entity's allocated budget."""
        micros = amount(value)
        account = entity_budget(entity_id)
        await self._run(
            lambda: self.funding.ledger.open_account(account, "entity_budget", entity_id=entity_id)
        )
        return await self._run(lambda: self.funding.deposit(key, account, micros, actor))

    async def add_source(self, entity_id: str, source_id: str, position: int) -> str:
        """Add a pre-approved funding source of the entity."""
        return await self._run(self.funding.add_source, entity_id, source_id, position)

    async def fund_source(self, key: str, source_id: str, value: str, actor: str) -> Posting:
        """Deposit into a funding source (the processor's money arriving)."""
        micros = amount(value)
        account = source_account(source_id)
        await self._run(self.funding.ledger.account, account)
        return await self._run(lambda: self.funding.deposit(key, account, micros, actor))

    async def contribute(
        self, key: str, source_id: str, persona_id: str, value: str, actor: str
    ) -> Posting:
        """A direct contribution from a source to a persona of the same entity, refused
        beyond the persona's funding limit."""
        micros = amount(value)
        entity_id, limit = await self._persona(persona_id)
        await self._run(self.funding.setup_persona, entity_id, persona_id)
        posting = await self._run(
            lambda: self.funding.contribute(key, source_id, persona_id, micros, actor, limit)
        )
        await self._notify_if_running(persona_id)
        return posting

    async def top_up(self, key: str, persona_id: str, from_account: str, value: str) -> Posting:
        """An admin's top-up, refused beyond the persona's funding limit."""
        micros = amount(value)
        entity_id, limit = await self._persona(persona_id)
        await self._run(self.funding.setup_persona, entity_id, persona_id)
        posting = await self._run(
            lambda: self.funding.manual_top_up(key, persona_id, from_account, micros, limit)
        )
        await self._notify_if_running(persona_id)
        return posting

    async def _notify_if_running(self, persona_id: str) -> None:
        """Best effort: without a cycle (or a server) the next period finds the funds."""
        try:
            await self._handle(persona_id).signal(FundingCycle.funds_arrived, "funds")
        except Exception:
            return

    async def balance(self, persona_id: str) -> int:
        """The persona's spendable balance in micro-units (zero before any funding)."""
        await self._persona(persona_id)
        try:
            return await asyncio.to_thread(self.funding.ledger.balance, persona_balance(persona_id))
        except UnknownAccount:
            return 0  # a read opens nothing: no account yet is no funding yet

    # ------------------------------------------------------------------ rules, outcomes
    async def rules(self) -> RuleSet:
        """The rules document in force."""
        return await self._run(self.performance.rules)

    async def rule_versions(self, limit: int = 50) -> list[RulesVersionInfo]:
        """The newest stored versions of the rules (who, when), newest first."""
        return await self._run(self.performance.rule_versions, limit)

    async def rules_version(self, version: int) -> RuleSet:
        """A stored version of the rules document."""
        return await self._run(self.performance.rules_version, version)

    async def set_rules(self, document: str | dict[str, Any], admin_secret: str | None) -> RuleSet:
        """Store a new rules document as an administrator; refused with the reason."""
        return await self._run(self.performance.set_rules, document, admin_secret)

    async def create_admin(self, admin_id: str, by_secret: str | None) -> str:
        """A new administrator's secret (shown once); the first needs no ``by_secret``."""
        return await self._run(self.admins.create, admin_id, by_secret)

    async def revoke_admin(self, admin_id: str, by_secret: str | None) -> None:
        """Revoke an administrator at once."""
        await self._run(self.admins.revoke, admin_id, by_secret)

    async def record_outcome(self, key: str, persona_id: str, outcome: PerformanceOutcome) -> bool:
        """Record an outcome for the rules."""
        return await self._run(self.performance.record, key, persona_id, outcome)

    # ------------------------------------------------------------------ keys
    async def issue_key(self, persona_id: str, actor: str) -> IssuedKey:
        """A new API key; its secret is in the result only."""
        await self._run(self.store.get_persona, persona_id)
        return await self._run(self.keys.issue, persona_id, actor)

    async def revoke_key(self, key_id: str, actor: str) -> None:
        """Revoke a key at once."""
        await self._run(self.keys.revoke, key_id, actor)

    async def verify_key(self, secret: str) -> str:
        """The persona of a live key, or a :class:`PersonaError` saying why not."""
        return await self._run(self.keys.verify, secret)

    async def list_keys(self, persona_id: str) -> list[KeyInfo]:
        """The persona's keys."""
        return await self._run(self.keys.keys, persona_id)

    async def schedule_rotation(
        self, persona_id: str, every: timedelta, overlap: timedelta
    ) -> ScheduleHandle:
        """A Temporal Schedule rotating the persona's key every ``every``."""
        if every <= timedelta(0) or overlap <= timedelta(0):
            raise PersonaError("rotation interval and overlap must be positive")
        if overlap >= every:
            raise PersonaError("the overlap window must be shorter than the rotation interval")
        await self._run(self.store.get_persona, persona_id)
        return await self.client.create_schedule(
            rotation_schedule_id(persona_id),
            Schedule(
                action=ScheduleActionStartWorkflow(
                    KeyRotation.run,
                    RotateKeyRequest(persona_id=persona_id, overlap_s=overlap.total_seconds()),
                    id=f"key-rotation-{persona_id}",
                    task_queue=self.task_queue,
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            ),
        )

    # ------------------------------------------------------------------ audit, usage, ads
    async def audit(self, **scope: Unpack[Scope]) -> list[AuditEntry]:
        """Audit entries filtered by persona, entity and time."""
        return await self._run(lambda: self.audit_log.entries(**scope))

    async def verify_audit(self) -> tuple[bool, str]:
        """Verify the audit chain."""
        return await self._run(self.audit_log.verify)

    async def usage(self, **scope: Unpack[Scope]) -> list[UsageRecord]:
        """Usage events per persona, entity and period."""
        return await self._run(lambda: self.funding.meter.usage(**scope))

    async def add_ad(self, ad: Ad) -> None:
        """Add an ad to the inventory."""
        await self._run(self.ads.add_ad, ad)

    async def set_ad_opt_out(self, user_id: str, opted_out: bool) -> None:
        """A user's choice about personalised ads, from the next impression."""
        await self._run(self.ads.set_opt_out, user_id, opted_out)
