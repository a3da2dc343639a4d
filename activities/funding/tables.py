"""Tables of the ledger, metering, rules, keys, audit and ads, on the store's metadata.

Created only by migration 0002_funding; declared on the same declarative base as the
domain store so that one metadata describes the whole schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from activities.store.tables import Base, UTCDateTime

ID = String(255)


class Account(Base):
    """A ledger account; ``balance`` is the sum of its entries, kept by conditional UPDATEs."""

    __tablename__ = "funding_accounts"
    __table_args__ = (Index("ix_funding_accounts_entity_id_kind", "entity_id", "kind"),)

    account_id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(ID)
    persona_id: Mapped[str | None] = mapped_column(ID)
    position: Mapped[int] = mapped_column(Integer)
    may_go_negative: Mapped[bool] = mapped_column(Boolean)
    balance: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerTransaction(Base):
    """A balanced transaction, posted once per idempotency key."""

    __tablename__ = "funding_transactions"

    tx_id: Mapped[str] = mapped_column(ID, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[str] = mapped_column(String(64))
    memo: Mapped[str] = mapped_column(Text)
    persona_id: Mapped[str | None] = mapped_column(ID, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Entry(Base):
    """One leg of a transaction: a signed amount on one account."""

    __tablename__ = "funding_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tx_id: Mapped[str] = mapped_column(ID, ForeignKey("funding_transactions.tx_id"), index=True)
    account_id: Mapped[str] = mapped_column(
        ID, ForeignKey("funding_accounts.account_id"), index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)


class Hold(Base):
    """A pre-authorisation hold: open, then settled or released exactly once."""

    __tablename__ = "funding_holds"
    __table_args__ = (Index("ix_funding_holds_status_expires_at", "status", "expires_at"),)

    hold_id: Mapped[str] = mapped_column(ID, primary_key=True)
    persona_id: Mapped[str] = mapped_column(ID)
    amount: Mapped[int] = mapped_column(BigInteger)
    charged: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UsageEvent(Base):
    """A metered use (model call, storage, compute) with its price and posting."""

    __tablename__ = "usage_events"
    __table_args__ = (
        Index("ix_usage_events_persona_id_occurred_at", "persona_id", "occurred_at"),
        Index("ix_usage_events_entity_id_occurred_at", "entity_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_key: Mapped[str] = mapped_column(String(255), unique=True)
    persona_id: Mapped[str] = mapped_column(ID)
    entity_id: Mapped[str] = mapped_column(ID)
    activity: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(128))
    tokens_in: Mapped[int] = mapped_column(Integer)
    tokens_out: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[int] = mapped_column(BigInteger)
    tx_id: Mapped[str | None] = mapped_column(ID)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PerformanceRecord(Base):
    """An outcome reported for the funding rules (resolved, accurate, other metrics)."""

    __tablename__ = "performance_outcomes"
    __table_args__ = (
        Index("ix_performance_outcomes_persona_id_recorded_at", "persona_id", "recorded_at"),
    )

    outcome_key: Mapped[str] = mapped_column(ID, primary_key=True)
    persona_id: Mapped[str] = mapped_column(ID)
    resolved: Mapped[bool] = mapped_column(Boolean)
    accurate: Mapped[bool | None] = mapped_column(Boolean)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RulesVersion(Base):
    """A version of the funding rules document; the newest applies."""

    __tablename__ = "funding_rules"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """A persona's API key, stored only as its SHA-256 hash."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(ID, primary_key=True)
    persona_id: Mapped[str] = mapped_column(ID, index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Admin(Base):
    """An administrator (may edit the funding rules), known by the hash of its secret."""

    __tablename__ = "funding_admins"

    admin_id: Mapped[str] = mapped_column(ID, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(ID)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditRow(Base):
    """An append-only audit entry chained by hash to the previous entry of its stream.

    A stream is a persona (or an entity, or ``system``): streams chain independently, so
    postings of different personas never wait for one another.
    """

    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("stream", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stream: Mapped[str] = mapped_column(ID)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    persona_id: Mapped[str | None] = mapped_column(ID, index=True)
    entity_id: Mapped[str | None] = mapped_column(ID, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: Set when the appender may retry (an activity): a second append with it adds nothing.
    entry_key: Mapped[str | None] = mapped_column(String(255), unique=True)


class AuditHead(Base):
    """The row locked while appending to a stream: its last sequence number and hash."""

    __tablename__ = "audit_head"

    stream: Mapped[str] = mapped_column(ID, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    #: The hash before the last entry, as the ledger's one-statement posting left it.
    prev_hash: Mapped[str | None] = mapped_column(String(64))


class AdRow(Base):
    """An ad in the inventory."""

    __tablename__ = "ads"

    ad_id: Mapped[str] = mapped_column(ID, primary_key=True)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    revenue_per_impression: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean)


class Impression(Base):
    """One ad impression (or a decision to show none), recorded once per key."""

    __tablename__ = "ad_impressions"
    __table_args__ = (Index("ix_ad_impressions_persona_id_at", "persona_id", "at"),)

    impression_key: Mapped[str] = mapped_column(ID, primary_key=True)
    persona_id: Mapped[str] = mapped_column(ID)
    user_id: Mapped[str] = mapped_column(ID)
    ad_id: Mapped[str | None] = mapped_column(ID)
    targeted: Mapped[bool] = mapped_column(Boolean)
    revenue: Mapped[int] = mapped_column(BigInteger)
    credited: Mapped[int] = mapped_column(BigInteger)
    tx_id: Mapped[str | None] = mapped_column(ID)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AdPreference(Base):
    """A user's choice about personalised ads."""

    __tablename__ = "ad_preferences"

    user_id: Mapped[str] = mapped_column(ID, primary_key=True)
    opted_out: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
