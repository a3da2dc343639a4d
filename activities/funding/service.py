"""Funding operations over the ledger: sources, deposits, top-ups, contributions, spend.

Each operation is one idempotent ledger transaction, keyed by the caller (the workflow).
Every credit to a persona against its funding limit is checked in that transaction, by the
guarded UPDATE of the ledger's credit leg (``balance + amount <= limit``), so concurrent
top-ups and contributions never take a balance beyond the limit on either database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from activities.funding.db import Database, FundingError
from activities.funding.ledger import (
    WORLD,
    HoldRecord,
    Ledger,
    LimitExceeded,
    Posting,
    entity_budget,
    merge_legs,
    persona_balance,
    persona_spend,
    post_on,
    source_account,
)
from activities.funding.metering import Meter, Usage, UsageRecord
from activities.funding.tables import Account
from personas.funding.money import fmt
from personas.funding.pricing import PriceTable, hold_size
from personas.funding.topup import TopUpPlan, TopUpPolicy, plan_top_up


class TopUpRefused(FundingError):
    """A manual top-up that would exceed the persona's funding limit."""


class ContributionRefused(FundingError):
    """A contribution from a source of one entity to a persona of another, or one that
    would exceed the persona's funding limit."""


class TopUpResult(BaseModel):
    """What a top-up drew, what it could not, and the balance after it."""

    model_config = ConfigDict(frozen=True)

    plan: TopUpPlan
    posting: Posting | None
    balance: int


class Funding:
    """The funding operations of the store (thread-safe)."""

    def __init__(self, db: Database, prices: PriceTable | None = None) -> None:
        """Use ``db``; price usage from ``prices`` (the defaults when None)."""
        self.db = db
        self.ledger = Ledger(db)
        self.meter = Meter(db, prices or PriceTable())
        self.ledger.open_world()

    def setup_persona(self, entity_id: str, persona_id: str) -> None:
        """Open the persona's accounts and its entity's budget (idempotent)."""
        self.ledger.open_persona(entity_id, persona_id)

    def add_source(self, entity_id: str, source_id: str, position: int) -> str:
        """Open a pre-approved funding source of the entity, drawn from in ``position`` order."""
        account_id = source_account(source_id)
        self.ledger.open_account(account_id, "source", entity_id=entity_id, position=position)
        return account_id

    def deposit(self, key: str, account_id: str, amount: int, actor: str = "admin") -> Posting:
        """Money entering from outside (a payment processor) into an account."""
        owner = self.ledger.account(account_id)
        return self.ledger.post(
            key,
            [(WORLD, -amount), (account_id, amount)],
            kind="deposit",
            persona_id=owner.persona_id,
            entity_id=owner.entity_id,
            actor=actor,
        )

    def _owner(self, account_id: str) -> Account:
        return self.ledger.account(account_id)

    # ------------------------------------------------------------------ top-up
    def top_up(
        self, key: str, persona_id: str, policy: TopUpPolicy, funding_limit: int
    ) -> TopUpResult:
        """Top the persona up from its entity budget, then its sources in order; once per key.

        The rows involved are locked (``FOR UPDATE``, in account order) while planning, so
        the plan and the posting see the same balances; the posting's credit leg is also
        guarded by ``funding_limit``.
        """
        balance_id = persona_balance(persona_id)
        persona = self._owner(balance_id)
        entity_id = persona.entity_id or ""
        with self.db.tx() as s:
            ids = [balance_id, entity_budget(entity_id)]
            ids += list(
                s.scalars(
                    select(Account.account_id).where(
                        Account.entity_id == entity_id, Account.kind == "source"
                    )
                )
            )
            rows = {
                r.account_id: r
                for r in s.scalars(
                    select(Account)
                    .where(Account.account_id.in_(ids))
                    .order_by(Account.account_id)
                    .with_for_update()
                )
            }
            sources = sorted(
                (r for r in rows.values() if r.kind == "source"),
                key=lambda r: (r.position, r.account_id),
            )
            budget = rows.get(entity_budget(entity_id))
            available = [(budget.account_id, budget.balance)] if budget else []
            available += [(r.account_id, r.balance) for r in sources]
            balance = rows[balance_id].balance
            existing = Ledger.existing(s, key)  # checked under the locks: a retry, or a
            if existing is not None:  # duplicate attempt racing the first, returns it
                nothing = TopUpPlan(draws=(), wanted=0, shortfall=0)
                return TopUpResult(plan=nothing, posting=existing, balance=balance)
            plan = plan_top_up(balance, policy, funding_limit, available)
            posting = None
            if plan.draws:
                legs = [(d.account_id, -d.amount) for d in plan.draws]
                legs.append((balance_id, plan.total))
                posting = post_on(
                    s.connection(),
                    key,
                    merge_legs(legs),
                    "top_up",
                    "",
                    persona_id,
                    entity_id,
                    "funding-cycle",
                    {balance_id: funding_limit},
                )
            return TopUpResult(plan=plan, posting=posting, balance=balance + plan.total)

    def manual_top_up(
        self, key: str, persona_id: str, from_account: str, amount: int, funding_limit: int
    ) -> Posting:
        """An admin's top-up from one account; refused beyond the funding limit.

        The limit is checked by the posting itself (its credit leg's guarded UPDATE), so
        concurrent top-ups never overshoot it; a replayed ``key`` returns the first posting.
        """
        self.ledger.account(from_account)
        balance_id = persona_balance(persona_id)
        try:
            return self.ledger.post(
                key,
                [(from_account, -amount), (balance_id, amount)],
                kind="top_up",
                actor="admin",
                limits={balance_id: funding_limit},
            )
        except LimitExceeded as err:
            raise TopUpRefused(
                f"top-up of {fmt(amount)} would bring the balance to "
                f"{fmt(err.balance + amount)}, beyond the funding limit of {fmt(funding_limit)}"
            ) from None

    def contribute(
        self,
        key: str,
        source_id: str,
        persona_id: str,
        amount: int,
        actor: str,
        funding_limit: int | None = None,
    ) -> Posting:
        """A direct contribution from a funding source to a persona of the same entity;
        refused beyond ``funding_limit`` (when given), checked by the posting itself."""
        src = self._owner(source_account(source_id))
        persona = self._owner(persona_balance(persona_id))
        if src.entity_id != persona.entity_id:
            raise ContributionRefused(
                f"source {source_id} belongs to entity {src.entity_id}; persona {persona_id} "
                f"belongs to {persona.entity_id}"
            )
        limits = {} if funding_limit is None else {persona.account_id: funding_limit}
        try:
            return self.ledger.post(
                key,
                [(src.account_id, -amount), (persona.account_id, amount)],
                kind="contribution",
                persona_id=persona_id,
                entity_id=persona.entity_id,
                actor=actor,
                limits=limits,
            )
        except LimitExceeded as err:
            raise ContributionRefused(
                f"contribution of {fmt(amount)} would bring the balance of persona "
                f"{persona_id} to {fmt(err.balance + amount)}, beyond its funding limit of "
                f"{fmt(err.limit)}"
            ) from None

    # ------------------------------------------------------------------ spend
    def reserve(
        self,
        hold_id: str,
        persona_id: str,
        model: str,
        tokens_in: int,
        max_tokens_out: int,
        ttl: timedelta,
        now: datetime | None = None,
        max_compute_ms: int = 0,
        max_tool_bytes: int = 0,
    ) -> HoldRecord:
        """Hold the price of a call at its largest output, longest compute and most tool bytes
        before the work."""
        amount = hold_size(
            self.meter.prices, model, tokens_in, max_tokens_out, max_compute_ms, max_tool_bytes
        )
        return self.ledger.hold(hold_id, persona_id, amount, ttl, now)

    def settle_usage(
        self, hold_id: str, *usage: Usage, now: datetime | None = None
    ) -> tuple[HoldRecord, list[UsageRecord]]:
        """Settle a hold at the metered price of ``usage`` (a model call and its compute,
        say) and record each usage event with the posting; once."""
        hold = self.ledger.settle(hold_id, sum(self.meter.price(u) for u in usage))
        posting = self.ledger.posting(f"settled:{hold_id}")
        tx_id = posting.tx_id if posting else None
        return hold, [self.meter.record(u, tx_id, now) for u in usage]

    def charge_storage(
        self, key: str, persona_id: str, megabyte_days: int, now: datetime | None = None
    ) -> UsageRecord:
        """Charge ``megabyte_days`` of storage to the persona once per ``key``.

        The usage event carries the metered price; the posting moves that much from the
        persona's balance to its spend, or the whole balance when it holds less (a balance
        never goes negative; the funding cycle's top-up follows).
        """
        balance_id = persona_balance(persona_id)
        owner = self._owner(balance_id)
        usage = Usage(
            event_key=key,
            persona_id=persona_id,
            entity_id=owner.entity_id or "",
            activity="funding_cycle",
            kind="storage",
            quantity=megabyte_days,
        )
        price = self.meter.price(usage)
        with self.db.tx() as s:
            balance = s.scalars(
                select(Account.balance).where(Account.account_id == balance_id).with_for_update()
            ).one()
            posting = Ledger.existing(s, key)
            charge = min(price, balance)
            if posting is None and charge > 0:
                legs = [(balance_id, -charge), (persona_spend(persona_id), charge)]
                posting = post_on(
                    s.connection(),
                    key,
                    legs,
                    "spend",
                    "storage",
                    persona_id,
                    owner.entity_id,
                    "funding-cycle",
                )
        return self.meter.record(usage, posting.tx_id if posting else None, now)
