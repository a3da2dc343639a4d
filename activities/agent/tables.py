"""Tables of agent resources, grants, recorded turn steps and the tool audit.

Created only by migration 0009_agent_resources; declared on the store's declarative base so
one metadata describes the whole schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
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
    """One tool call of a turn, allowed or refused, with a digest of its arguments."""

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
