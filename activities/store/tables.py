"""SQLAlchemy 2 declarative models of the domain store.

The schema itself is created only by the Alembic migrations next to this module; these
models describe it for queries, and a test checks that both agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC; always read back as an aware UTC value.

    SQLite keeps no offset, so values are converted to UTC before binding and the UTC
    zone is attached again on the way out. Naive datetimes are refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC; refuse a naive one."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata and constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Entity(Base):
    """An entity (person, team, organisation) on whose behalf personas act."""

    __tablename__ = "entities"

    entity_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EntityResource(Base):
    """A resource an entity may grant to its personas."""

    __tablename__ = "entity_resources"

    entity_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("entities.entity_id", ondelete="CASCADE"), primary_key=True
    )
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)


class Persona(Base):
    """A persona's identity: what does not change between versions."""

    __tablename__ = "personas"
    __table_args__ = (UniqueConstraint("entity_id", "name"), Index("ix_personas_kind", "kind"))

    persona_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(255), ForeignKey("entities.entity_id"))
    name: Mapped[str] = mapped_column(String(255))
    latest_version: Mapped[int] = mapped_column(Integer)
    life_status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PersonaVersion(Base):
    """One version of a persona's body; every change adds a row."""

    __tablename__ = "persona_versions"

    persona_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("personas.persona_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    usage_count: Mapped[int] = mapped_column(Integer)


class Content(Base):
    """A large payload kept out of workflow histories and passed by reference."""

    __tablename__ = "contents"

    content_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    parts: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    """Content parts, when not a lone text (``text``) or JSON object (``data``)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ShedItem(Base):
    """An inbox item a persona shed, kept so it is never silently lost."""

    __tablename__ = "shed_items"
    __table_args__ = (UniqueConstraint("persona_id", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    persona_id: Mapped[str] = mapped_column(String(255))
    item_id: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    priority_bp: Mapped[int] = mapped_column(Integer)
    item: Mapped[dict[str, Any]] = mapped_column(JSON)
    shed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Outcome(Base):
    """The outcome of processing one inbox item, recorded once."""

    __tablename__ = "outcomes"
    __table_args__ = (UniqueConstraint("persona_id", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    persona_id: Mapped[str] = mapped_column(String(255))
    item_id: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(64))
    output_ref: Mapped[str | None] = mapped_column(String(255))
    tokens_in: Mapped[int] = mapped_column(Integer)
    tokens_out: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RoomPostRow(Base):
    """A persona's post of a message (by content reference) to a room."""

    __tablename__ = "room_posts"
    __table_args__ = (
        UniqueConstraint("room_id", "message_id", "persona_id"),
        Index("ix_room_posts_room_id_posted_at", "room_id", "posted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str] = mapped_column(String(255))
    persona_id: Mapped[str] = mapped_column(String(255))
    content_ref: Mapped[str] = mapped_column(String(255))
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())
