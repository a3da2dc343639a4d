"""Tables of agent resources, grants, recorded turn steps, the tool audit and memories.

Created only by migrations (0009_agent_resources, 0011_agent_audit_meters, 0012, 0013);
declared on the store's declarative base so one metadata describes the whole schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from activities.store.tables import Base, UTCDateTime

ID = String(255)


class AgentResource(Base):
    """A typed resource an entity owns (``files`` directory, ``sql`` SQLite file, ...)."""

    __tablename__ = "agent_resources"

    entity_id: Mapped[str] = mapped_column(
        ID, ForeignKey("entities.entity_id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(String(1024))
    levels: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AgentGrant(Base):
    """A resource granted to a persona at a level; removing the resource removes it."""

    __tablename__ = "agent_grants"
    __table_args__ = (
        ForeignKeyConstraint(
            ["entity_id", "resource"],
            ["agent_resources.entity_id", "agent_resources.name"],
            ondelete="CASCADE",
            name="fk_agent_grants_resource_agent_resources",
        ),
    )

    persona_id: Mapped[str] = mapped_column(
        ID, ForeignKey("personas.persona_id", ondelete="CASCADE"), primary_key=True
    )
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    entity_id: Mapped[str] = mapped_column(ID)
    level: Mapped[str] = mapped_column(String(8))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AgentStep(Base):
    """The recorded result of one step of an agent turn, keyed by persona, item and step.

    A retried or resumed step finds its result here and is not done again.
    """

    __tablename__ = "agent_steps"

    persona_id: Mapped[str] = mapped_column(ID, primary_key=True)
    item_id: Mapped[str] = mapped_column(ID, primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AgentToolAudit(Base):
    """One tool call of a turn, allowed or refused, with a digest of its arguments, a
    reference to its output and its meters (migration 0011 added those columns)."""

    __tablename__ = "agent_tool_audit"
    __table_args__ = (
        UniqueConstraint("persona_id", "item_id", "step"),
        Index("ix_agent_tool_audit_persona_id_at", "persona_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    persona_id: Mapped[str] = mapped_column(ID)
    item_id: Mapped[str] = mapped_column(ID)
    step: Mapped[int] = mapped_column(Integer)
    tool: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(64))
    args_digest: Mapped[str] = mapped_column(String(64))
    allowed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    result_ref: Mapped[str | None] = mapped_column(String(300))
    cpu_ms: Mapped[int] = mapped_column(BigInteger, server_default="0")
    bytes_read: Mapped[int] = mapped_column(BigInteger, server_default="0")
    bytes_written: Mapped[int] = mapped_column(BigInteger, server_default="0")


class AgentDelegation(Base):
    """A persona delegating a resource it reaches, at a level, to another of its entity.

    Created by migration 0012_agent_delegations. What a persona reaches is computed from the
    grants and these rows (:mod:`activities.agent.delegation`), never stored.
    """

    __tablename__ = "agent_delegations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["entity_id", "resource"],
            ["agent_resources.entity_id", "agent_resources.name"],
            ondelete="CASCADE",
            name="fk_agent_delegations_resource_agent_resources",
        ),
        Index("ix_agent_delegations_entity_id", "entity_id"),
    )

    from_persona: Mapped[str] = mapped_column(
        ID, ForeignKey("personas.persona_id", ondelete="CASCADE"), primary_key=True
    )
    to_persona: Mapped[str] = mapped_column(
        ID, ForeignKey("personas.persona_id", ondelete="CASCADE"), primary_key=True
    )
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    entity_id: Mapped[str] = mapped_column(ID)
    level: Mapped[str] = mapped_column(String(8))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AgentMemory(Base):
    """A persona's memory of one room or person (:class:`personas.agent.memory.Memory`).

    Created by migration 0013_agent_memory.
    """

    __tablename__ = "agent_memory"

    persona_id: Mapped[str] = mapped_column(
        ID, ForeignKey("personas.persona_id", ondelete="CASCADE"), primary_key=True
    )
    about: Mapped[str] = mapped_column(String(300), primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
