"""Metering: usage events priced from the price table, linked to their ledger posting."""

from __future__ import annotations

from datetime import datetime
from typing import Unpack

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, func, select

from activities.funding.db import Database
from activities.funding.tables import UsageEvent
from activities.store.db import Scope, insert_ignore, scope_filter, utc
from personas.funding.pricing import PriceTable


class Usage(BaseModel):
    """What one activity used; priced by :meth:`Meter.price`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_key: str = Field(min_length=1, max_length=255)
    persona_id: str
    entity_id: str
    activity: str
    kind: str = Field(pattern=r"^(model_call|storage|compute|tool_bytes)$")
    model: str | None = None
    tokens_in: int = Field(default=0, ge=0)
    tokens_out: int = Field(default=0, ge=0)
    quantity: int = Field(
        default=0, ge=0, description="MB-days of storage, ms of compute or bytes of tool calls"
    )


class UsageRecord(BaseModel):
    """A recorded usage event."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    event_key: str
    persona_id: str
    entity_id: str
    activity: str
    kind: str
    model: str | None
    tokens_in: int
    tokens_out: int
    quantity: int
    price: int
    tx_id: str | None
    occurred_at: datetime


def _scope(scope: Scope) -> list[ColumnElement[bool]]:
    return scope_filter(
        at=UsageEvent.occurred_at,
        persona=UsageEvent.persona_id,
        entity=UsageEvent.entity_id,
        **scope,
    )


class Meter:
    """Records usage once per event key and answers usage queries."""

    def __init__(self, db: Database, prices: PriceTable) -> None:
        """Price events from ``prices``."""
        self.db = db
        self.prices = prices

    def price(self, usage: Usage) -> int:
        """The price of ``usage`` in micro-units."""
        if usage.kind == "model_call":
            return self.prices.model_call(usage.model or "", usage.tokens_in, usage.tokens_out)
        if usage.kind == "storage":
            return self.prices.storage(usage.quantity)
        if usage.kind == "tool_bytes":
            return self.prices.tool_bytes(usage.quantity)
        return self.prices.compute(usage.quantity)

    def record(self, usage: Usage, tx_id: str | None, now: datetime | None = None) -> UsageRecord:
        """Record ``usage`` with its price and posting; a replay returns the first record."""
        values = usage.model_dump() | {
            "price": self.price(usage),
            "tx_id": tx_id,
            "occurred_at": utc(now),
        }
        with self.db.tx() as s:
            insert_ignore(s, UsageEvent, values)
            row = s.scalars(select(UsageEvent).where(UsageEvent.event_key == usage.event_key)).one()
            return UsageRecord.model_validate(row)

    def usage(self, **scope: Unpack[Scope]) -> list[UsageRecord]:
        """Usage events filtered by persona, entity and period ``[since, until)``."""
        conds = _scope(scope)
        stmt = select(UsageEvent).where(*conds).order_by(UsageEvent.occurred_at, UsageEvent.id)
        with self.db.tx() as s:
            return [UsageRecord.model_validate(r) for r in s.scalars(stmt)]

    def total(self, **scope: Unpack[Scope]) -> int:
        """Total price of the matching usage events."""
        conds = _scope(scope)
        stmt = select(func.coalesce(func.sum(UsageEvent.price), 0)).where(*conds)
        with self.db.tx() as s:
            return int(s.execute(stmt).scalar() or 0)
