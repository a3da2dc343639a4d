"""Tool calls draw the price of their bytes from their turn's hold.

A turn's hold (see :func:`personas.funding.pricing.hold_size`) covers its model calls, its
compute and the most bytes its tool calls may read, write or send. Before a tool call runs,
:meth:`HoldDraws.draw` takes the price of the most bytes one call may move from the hold's
remainder: one transaction that records the call's usage event (once per key) and raises
the hold's ``charged`` only if it stays within the hold's amount (a guarded ``UPDATE``, so
the check and the change are the same statement). A hold too small refuses the call
(:class:`HoldExhausted`) and nothing is changed. After the call, :meth:`HoldDraws.adjust`
lowers the draw to the bytes actually moved, once. The hold's settle or release then
moves what was drawn from the persona's held account to its spend in its posting (see
:meth:`activities.funding.ledger.Ledger.settle`), and links the draws' usage events to it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from activities.funding.db import Database, FundingError, OnDatabase
from activities.funding.tables import Hold, UsageEvent
from activities.store.db import insert_ignore, rowcount, utc
from personas.funding.money import fmt
from personas.funding.pricing import PriceTable

DRAW_PREFIX = "tool:"


class HoldExhausted(FundingError):
    """The turn's hold has too little left for a tool call's bytes (or is closed)."""


class ToolDraw(BaseModel):
    """One tool call's draw on its turn's hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hold_id: str = Field(min_length=1, max_length=200)
    step: int = Field(ge=0)
    persona_id: str = Field(min_length=1, max_length=255)
    entity_id: str = Field(max_length=255)
    tool: str = Field(max_length=64)

    @property
    def event_key(self) -> str:
        """The usage event's key: one per hold and step."""
        return f"{DRAW_PREFIX}{self.hold_id}:{self.step}"


def draw_key_prefix(hold_id: str) -> str:
    """The prefix of the usage event keys of ``hold_id``'s draws."""
    return f"{DRAW_PREFIX}{hold_id}:"


def link_draws(s: Session, hold_id: str, tx_id: str) -> None:
    """Point the usage events of ``hold_id``'s draws at the posting that paid them."""
    s.execute(
        update(UsageEvent)
        .where(
            UsageEvent.event_key.startswith(draw_key_prefix(hold_id), autoescape=True),
            UsageEvent.tx_id.is_(None),
        )
        .values(tx_id=tx_id)
    )


class HoldDraws(OnDatabase):
    """Draws of tool calls' bytes on their turn's hold, priced from ``prices``."""

    def __init__(self, db: Database, prices: PriceTable) -> None:
        """Use ``db``; price bytes at ``prices.tool_bytes_per_mb``."""
        super().__init__(db)
        self.prices = prices

    def draw(self, call: ToolDraw, max_bytes: int, now: datetime | None = None) -> int:
        """Take the price of ``max_bytes`` from the hold before the call runs; its price.
        A replay returns the first draw's price; :class:`HoldExhausted` when too little is
        left (nothing is recorded then)."""
        price = self.prices.tool_bytes(max_bytes)
        with self.db.tx() as s:
            created = insert_ignore(
                s,
                UsageEvent,
                {
                    "event_key": call.event_key,
                    "persona_id": call.persona_id,
                    "entity_id": call.entity_id,
                    "activity": call.tool,
                    "kind": "tool_bytes",
                    "model": None,
                    "tokens_in": 0,
                    "tokens_out": 0,
                    "quantity": max_bytes,
                    "price": price,
                    "tx_id": None,
                    "occurred_at": utc(now),
                },
            )
            if not created:
                return int(self._event(s, call.event_key).price)
            taken = s.execute(
                update(Hold)
                .where(
                    Hold.hold_id == call.hold_id,
                    Hold.status == "open",
                    Hold.charged + price <= Hold.amount,
                )
                .values(charged=Hold.charged + price)
            )
            if rowcount(taken) != 1:
                raise HoldExhausted(self._why(s, call, max_bytes, price))
            return price

    def adjust(self, call: ToolDraw, drawn: int, used_bytes: int) -> int:
        """Lower the draw of ``drawn`` to the price of ``used_bytes`` (at most the draw),
        returning the rest to the hold; once (a replay changes nothing). The final price."""
        with self.db.tx() as s:
            price = min(drawn, self.prices.tool_bytes(used_bytes))
            lowered = s.execute(
                update(UsageEvent)
                .where(UsageEvent.event_key == call.event_key, UsageEvent.price == drawn)
                .values(quantity=used_bytes, price=price)
            )
            if rowcount(lowered) == 1 and price < drawn:
                s.execute(
                    update(Hold)
                    .where(Hold.hold_id == call.hold_id, Hold.status == "open")
                    .values(charged=Hold.charged - (drawn - price))
                )
            return int(self._event(s, call.event_key).price)

    @staticmethod
    def _event(s: Session, key: str) -> UsageEvent:
        return s.scalars(select(UsageEvent).where(UsageEvent.event_key == key)).one()

    @staticmethod
    def _why(s: Session, call: ToolDraw, max_bytes: int, price: int) -> str:
        hold = s.get(Hold, call.hold_id)
        if hold is None or hold.status != "open":
            state = "missing" if hold is None else hold.status
            return f"the turn's budget hold {call.hold_id} is {state}"
        left = hold.amount - hold.charged
        return (
            f"the turn's budget has {fmt(left)} left, too little for the {max_bytes} bytes "
            f"a {call.tool} call may move ({fmt(price)})"
        )
