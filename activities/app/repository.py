"""The app persona repository (versioned, in the generic personas table with kind="app"),
grants of personas to users, and session records."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update

from activities.app.tables import AppGrant, AppSessionRow
from activities.store import Store, StoreError, UnknownPersona
from activities.store.db import insert_ignore, tx
from personas.app.models import AppPersona

KIND = "app"


class VersionedAppPersona(BaseModel):
    """An app persona as stored: its body and version."""

    model_config = ConfigDict(frozen=True)

    persona: AppPersona
    version: int
    entity_id: str


class SessionRecord(BaseModel):
    """A session as recorded in the store."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    session_id: str
    persona_id: str
    persona_version: int
    user_id: str
    state: str
    reason: str | None
    started_at: datetime
    ended_at: datetime | None


class AppRepository:
    """App personas with versions, grants and sessions, over the domain store."""

    def __init__(self, store: Store) -> None:
        """Use ``store`` for personas and its engine for grants and sessions."""
        self.store = store
        self._engine = store.engine

    def save(self, persona: AppPersona, entity_id: str, created_by: str) -> VersionedAppPersona:
        """Store a new persona (version 1) or a new version of an existing app persona."""
        body = persona.model_dump(mode="json")
        try:
            current = self.store.get_persona(persona.persona_id)
        except UnknownPersona:
            rec = self.store.create_persona(
                kind=KIND,
                persona_id=persona.persona_id,
                entity_id=entity_id,
                name=persona.persona_name,
                body=body,
                created_by=created_by,
            )
            return VersionedAppPersona(persona=persona, version=rec.version, entity_id=entity_id)
        if current.kind != KIND:
            raise StoreError(f"persona {persona.persona_id} is a {current.kind} persona, not app")
        rec = self.store.update_persona(persona.persona_id, body, created_by)
        return VersionedAppPersona(persona=persona, version=rec.version, entity_id=entity_id)

    def get(self, persona_id: str, version: int | None = None) -> VersionedAppPersona:
        """The given (or latest) version; UnknownPersona when there is no such app persona."""
        rec = self.store.get_persona(persona_id, version)
        if rec.kind != KIND:
            raise UnknownPersona(f"unknown app persona {persona_id}")
        return VersionedAppPersona(
            persona=AppPersona.model_validate(rec.body),
            version=rec.version,
            entity_id=rec.entity_id,
        )

    def versions(self, persona_id: str) -> list[int]:
        """Every version number of the app persona, oldest first."""
        return [r.version for r in self.store.persona_versions(persona_id) if r.kind == KIND]

    def grant(self, persona_id: str, user_id: str) -> None:
        """Allow ``user_id`` to request the persona (idempotent)."""
        with tx(self._engine) as s:
            insert_ignore(
                s,
                AppGrant,
                {"persona_id": persona_id, "user_id": user_id, "granted_at": datetime.now(UTC)},
            )

    def revoke(self, persona_id: str, user_id: str) -> None:
        """Withdraw the grant (idempotent)."""
        with tx(self._engine) as s:
            g = s.get(AppGrant, (persona_id, user_id))
            if g is not None:
                s.delete(g)

    def is_granted(self, persona_id: str, user_id: str) -> bool:
        """True when the user may request the persona."""
        with tx(self._engine) as s:
            return s.get(AppGrant, (persona_id, user_id)) is not None

    def open_session(
        self, session_id: str, persona_id: str, version: int, user_id: str, state: str
    ) -> None:
        """Record the session's start (idempotent under retry)."""
        with tx(self._engine) as s:
            insert_ignore(
                s,
                AppSessionRow,
                {
                    "session_id": session_id,
                    "persona_id": persona_id,
                    "persona_version": version,
                    "user_id": user_id,
                    "state": state,
                    "reason": None,
                    "started_at": datetime.now(UTC),
                    "ended_at": None,
                },
            )

    def set_state(self, session_id: str, state: str) -> None:
        """Follow the workflow's state (queued, running, releasing) until the end is recorded."""
        with tx(self._engine) as s:
            s.execute(
                update(AppSessionRow)
                .where(AppSessionRow.session_id == session_id, AppSessionRow.ended_at.is_(None))
                .values(state=state[:32])
            )

    def live_sessions_of(self, persona_id: str, user_id: str) -> list[str]:
        """Sessions of the user on the persona that have not ended (for a revocation)."""
        with tx(self._engine) as s:
            stmt = select(AppSessionRow.session_id).where(
                AppSessionRow.persona_id == persona_id,
                AppSessionRow.user_id == user_id,
                AppSessionRow.ended_at.is_(None),
            )
            return list(s.scalars(stmt))

    def end_session(self, session_id: str, state: str, reason: str) -> None:
        """Record the end once; later calls keep the first end (idempotent)."""
        with tx(self._engine) as s:
            s.execute(
                update(AppSessionRow)
                .where(AppSessionRow.session_id == session_id, AppSessionRow.ended_at.is_(None))
                .values(state=state, reason=reason[:2000], ended_at=datetime.now(UTC))
            )

    def session(self, session_id: str) -> SessionRecord | None:
        """The session's record, or None."""
        with tx(self._engine) as s:
            row = s.get(AppSessionRow, session_id)
            return None if row is None else SessionRecord.model_validate(row)

    def sessions(self, user_id: str | None = None) -> list[SessionRecord]:
        """Recorded sessions (of one user when given), oldest first."""
        with tx(self._engine) as s:
            stmt = select(AppSessionRow).order_by(AppSessionRow.started_at)
            if user_id is not None:
                stmt = stmt.where(AppSessionRow.user_id == user_id)
            return [SessionRecord.model_validate(r) for r in s.scalars(stmt)]
