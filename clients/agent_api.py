"""``AgentClient``: an entity's typed resources, a persona's grants, tools and tool audit.

Store-only (no Temporal): a grant or revocation takes effect at the persona's next tool
call, since the scope is read again before every tool step.
"""

from __future__ import annotations

import asyncio
from typing import Any

from activities.agent.store import AgentStore, ToolAuditRecord
from activities.store import Store
from personas.agent.resources import Grant, Level, Resource, ResourceType, Scope
from personas.agent.tools import tool_definitions


class AgentClient:
    """Resources, grants and tools over the domain store."""

    def __init__(self, store: Store) -> None:
        self.agents = AgentStore(store.engine)

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

    async def scope(self, persona_id: str) -> Scope:
        """The persona's current scope."""
        return await asyncio.to_thread(self.agents.scope, persona_id)

    async def tools(self, persona_id: str) -> list[dict[str, Any]]:
        """The tools the persona may call now, as the model sees them."""
        return tool_definitions(await self.scope(persona_id))

    async def tool_audit(self, persona_id: str, limit: int = 100) -> list[ToolAuditRecord]:
        """The persona's latest tool calls, allowed and refused."""
        return await asyncio.to_thread(self.agents.tool_audit, persona_id, limit)
