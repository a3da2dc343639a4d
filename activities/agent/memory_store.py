"""Agent memories in the store: one row per persona and room or person, so they outlive the
life's continue-as-new and any worker."""

from __future__ import annotations

from sqlalchemy import Engine, select

from activities.agent.tables import AgentMemory
from activities.store.db import read_tx, tx, utc
from personas.agent.memory import Exchange, Memory, remember

MAX_LISTED = 200


class MemoryStore:
    """Load, extend and list the memories of agent personas."""

    def __init__(self, engine: Engine) -> None:
        """Use the store's engine."""
        self._engine = engine

    def get(self, persona_id: str, about: str) -> Memory:
        """The persona's memory of ``about`` (empty when it has none)."""
        with read_tx(self._engine) as s:
            row = s.get(AgentMemory, (persona_id, about))
            return Memory() if row is None else Memory.model_validate(row.body)

    def remember(self, persona_id: str, about: str, exchange: Exchange) -> Memory:
        """Fold ``exchange`` into the persona's memory of ``about``; the memory after."""
        with tx(self._engine) as s:
            row = s.get(AgentMemory, (persona_id, about), with_for_update=True)
            before = Memory() if row is None else Memory.model_validate(row.body)
            after = remember(before, exchange)
            body = after.model_dump(mode="json")
            if row is None:
                s.add(
                    AgentMemory(persona_id=persona_id, about=about, body=body, updated_at=utc(None))
                )
            elif after != before:
                row.body, row.updated_at = body, utc(None)
            return after

    def all_of(self, persona_id: str) -> dict[str, Memory]:
        """Every memory of the persona, by room or person (at most ``MAX_LISTED``)."""
        with read_tx(self._engine) as s:
            stmt = (
                select(AgentMemory)
                .where(AgentMemory.persona_id == persona_id)
                .order_by(AgentMemory.about)
                .limit(MAX_LISTED)
            )
            return {r.about: Memory.model_validate(r.body) for r in s.scalars(stmt)}
