"""Tables of app personas: host capacity, reservations, the wait queue, sessions, grants.

Created only by migration 0003_app_personas (0006 adds the deployment columns); declared on
the store's declarative base so one metadata describes the whole schema. Persona records
themselves live in the generic ``personas`` / ``persona_versions`` tables with
``kind="app"``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from activities.store.tables import Base, UTCDateTime

ID = String(255)


class AppHost(Base):
    """A host's capacity and what is reserved on it (kept by conditional UPDATEs)."""

    __tablename__ = "app_hosts"

    host_id: Mapped[str] = mapped_column(ID, primary_key=True)
    cpu_millis: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    storage_mb: Mapped[int] = mapped_column(Integer)
    used_cpu_millis: Mapped[int] = mapped_column(Integer)
    used_memory_mb: Mapped[int] = mapped_column(Integer)
    used_storage_mb: Mapped[int] = mapped_column(Integer)


class AppReservation(Base):
    """One session's reservation: active, being preempted, or released (kept for audit)."""

    __tablename__ = "app_reservations"
    __table_args__ = (Index("ix_app_reservations_host_id_state", "host_id", "state"),)

    session_id: Mapped[str] = mapped_column(ID, primary_key=True)
    host_id: Mapped[str] = mapped_column(ID)
    persona_id: Mapped[str] = mapped_column(ID)
    user_id: Mapped[str] = mapped_column(ID)
    priority: Mapped[int] = mapped_column(Integer)
    cpu_millis: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    storage_mb: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    reserved_ms: Mapped[int] = mapped_column(BigInteger)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deployment: Mapped[str | None] = mapped_column(String(63), nullable=True)


class AppQueueEntry(Base):
    """A request waiting for capacity; the queue is ordered by priority, then age."""

    __tablename__ = "app_queue"
    __table_args__ = (Index("ix_app_queue_host_id", "host_id"),)

    session_id: Mapped[str] = mapped_column(ID, primary_key=True)
    host_id: Mapped[str] = mapped_column(ID)
    priority: Mapped[int] = mapped_column(Integer)
    enqueued_ms: Mapped[int] = mapped_column(BigInteger)
    deployment: Mapped[str | None] = mapped_column(String(63), nullable=True)


class AppSessionRow(Base):
    """A session's record: who, which persona version, its state and how it ended."""

    __tablename__ = "app_sessions"
    __table_args__ = (Index("ix_app_sessions_user_id", "user_id"),)

    session_id: Mapped[str] = mapped_column(ID, primary_key=True)
    persona_id: Mapped[str] = mapped_column(ID)
    persona_version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str] = mapped_column(ID)
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AppGrant(Base):
    """Authorisation: a user may request a persona."""

    __tablename__ = "app_grants"

    persona_id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
