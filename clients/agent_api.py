"""``AgentClient``: an entity's typed resources, a persona's grants and delegations, tools,
replies, tool audit and memory.

Store-only (no Temporal): a grant, delegation or revocation takes effect at the persona's
next tool call, since the tool step reads the scope again (and re-mounts the sandbox).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from activities.agent.delegation import Delegations, Reach
from activities.agent.memory_store import MemoryStore
from activities.agent.store import MAX_ITEMS, AgentStore, ToolAuditRecord
from activities.store import Store, UnknownContent
from personas.agent.memory import Memory
from personas.agent.resources import Grant, Level, Resource, ResourceType, Scope
from personas.agent.tools import tool_definitions


class Reply(BaseModel):
    """One answer of a persona with the tool calls its turn made (its trace)."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    recorded_at: datetime
    purpose: str = Field(description="respond, or bid in a room")
    turn: str = Field(description="how the turn ended: answered, step_limit, unfunded ...")
    answer: str | None
    steps: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    trace: list[ToolAuditRecord] = Field(default_factory=list)


class AgentClient:
    """Resources, grants and tools over the domain store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.agents = AgentStore(store.engine)
        self.delegations = Delegations(store.engine)
        self.memories = MemoryStore(store.engine)

    async def add_resource(
        self,
        entity_id: str,
        name: str,
        type_: str,
        location: str,
        levels: list[str] | None = None,
        description: str = "",
    ) -> Resource:
        """Add a typed resource to an entity (validated: name, type, absolute location)."""
        resource = Resource(
            entity_id=entity_id,
            name=name,
            type=ResourceType(type_),
            location=location,
            levels=tuple(Level(v) for v in (levels or ["read"])),
            description=description,
        )
        return await asyncio.to_thread(self.agents.add_resource, resource)

    async def resources(self, entity_id: str) -> list[Resource]:
        """The entity's resources."""
        return await asyncio.to_thread(self.agents.list_resources, entity_id)

    async def remove_resource(self, entity_id: str, name: str) -> int:
        """Remove a resource; every grant of it is revoked (the count is returned)."""
        return await asyncio.to_thread(self.agents.remove_resource, entity_id, name)

    async def grant(self, persona_id: str, grants: list[Grant]) -> Scope:
        """Grant the persona these resources of its entity; its scope after."""
        return await asyncio.to_thread(self.agents.grant, persona_id, grants)

    async def revoke(self, persona_id: str, resource: str) -> bool:
        """Revoke one grant."""
        return await asyncio.to_thread(self.agents.revoke, persona_id, resource)

    async def delegate(self, from_persona: str, to_persona: str, grants: list[Grant]) -> Scope:
        """Delegate part of what ``from_persona`` reaches to ``to_persona`` (never more than
        it holds); the receiver's scope after."""
        await asyncio.to_thread(self.delegations.delegate, from_persona, to_persona, grants)
        return await self.scope(to_persona)

    async def undelegate(self, from_persona: str, to_persona: str, resource: str) -> bool:
        """Revoke one delegation: everything downstream of it loses the resource too."""
        return await asyncio.to_thread(self.delegations.revoke, from_persona, to_persona, resource)

    async def who_can_reach(self, entity_id: str, resource: str) -> list[Reach]:
        """Who reaches the entity's ``resource``, at what level, through which chain."""
        return await asyncio.to_thread(self.delegations.who_can_reach, entity_id, resource)

    async def scope(self, persona_id: str) -> Scope:
        """The persona's current scope."""
        return await asyncio.to_thread(self.agents.scope, persona_id)

    async def tools(self, persona_id: str) -> list[dict[str, Any]]:
        """The tools the persona may call now, as the model sees them."""
        return tool_definitions(await self.scope(persona_id))

    async def tool_audit(self, persona_id: str, limit: int = 100) -> list[ToolAuditRecord]:
        """The persona's latest tool calls, allowed and refused."""
        return await asyncio.to_thread(self.agents.tool_audit, persona_id, limit)

    async def memory(self, persona_id: str) -> dict[str, Memory]:
        """What the persona remembers, by room (``room:ID``) and person (``person:ID``)."""
        return await asyncio.to_thread(self.memories.all_of, persona_id)

    async def replies(self, persona_id: str, limit: int = 20) -> list[Reply]:
        """The persona's latest ``limit`` answers, newest first, each with its tool trace."""
        return await asyncio.to_thread(self._replies, persona_id, max(1, min(limit, MAX_ITEMS)))

    def _replies(self, persona_id: str, limit: int) -> list[Reply]:
        outcomes = self.store.recent_outcomes(persona_id, limit)
        audit = self.agents.item_audit(persona_id, [o.item_id for o in outcomes])
        replies = []
        for o in outcomes:
            answer, meta = None, {}
            if o.output_ref is not None:
                try:
                    content = self.store.get_content(o.output_ref)
                    answer, meta = content.text, content.data or {}
                except UnknownContent:
                    pass
            replies.append(
                Reply(
                    item_id=o.item_id,
                    recorded_at=o.recorded_at,
                    purpose=o.outcome,
                    turn=str(meta.get("outcome", "no tools")),
                    answer=answer,
                    steps=int(meta.get("steps", 0)),
                    tokens_in=o.tokens_in,
                    tokens_out=o.tokens_out,
                    trace=[a for a in audit if a.item_id == o.item_id],
                )
            )
        return replies
