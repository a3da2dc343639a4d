"""The audit trail of what personas do: one chained entry per piece of work, shed batch,
room post and message sent.

Entries go to the persona's audit chain (:mod:`activities.funding.audit_log`) with a key
derived from the work itself, so an activity retried after its entry was written (or after
its effect was recorded but before its entry was) appends exactly one entry.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from activities.funding.audit_log import AuditLog, append
from activities.funding.db import Database
from activities.store import Store, UnknownPersona


class PersonaAudit:
    """Appends persona activity to the audit log of the store's database."""

    def __init__(self, store: Store) -> None:
        """Audit on ``store``'s database (migrated by ``store.migrate()``)."""
        self.store = store
        self.log = AuditLog(Database(store.engine))
        self._entities: dict[str, str | None] = {}

    def _entity_of(self, persona_id: str) -> str | None:
        if persona_id not in self._entities:
            try:
                self._entities[persona_id] = self.store.get_persona(persona_id).entity_id
            except UnknownPersona:
                return None
        return self._entities[persona_id]

    def _record(self, persona_id: str, kind: str, key: str, data: dict[str, Any]) -> None:
        self.log.append(
            kind,
            persona_id,
            data,
            persona_id=persona_id,
            entity_id=self._entity_of(persona_id),
            key=key,
        )

    def step(
        self, persona_id: str, kind: str, key: str
    ) -> Callable[[Session, dict[str, Any]], None]:
        """The append :meth:`record` does, as a step of the caller's transaction given the
        entry's data (the persona's entity is read now, outside that transaction)."""
        entity_id = self._entity_of(persona_id)

        def append_in(s: Session, data: dict[str, Any]) -> None:
            append(
                s,
                kind,
                persona_id,
                data,
                persona_id=persona_id,
                entity_id=entity_id,
                key=f"{kind}:{persona_id}:{key}",
            )

        return append_in

    async def record(self, persona_id: str, kind: str, key: str, data: dict[str, Any]) -> None:
        """Append ``kind`` to the persona's chain once per ``key`` of this persona (the actor is
        the persona): personas answering the same room message each get their entry."""
        entry_key = f"{kind}:{persona_id}:{key}"
        await asyncio.to_thread(self._record, persona_id, kind, entry_key, data)


def batch_key(item_ids: list[str]) -> str:
    """A short key naming a set of items, whatever their order."""
    return hashlib.sha256("\n".join(sorted(item_ids)).encode()).hexdigest()[:32]
