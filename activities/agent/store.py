"""Agent resources, grants, turn steps and tool audit in the domain store.

Every method is one short transaction. Step results and audit rows are inserted with ON
CONFLICT DO NOTHING and read back, so a retried activity finds what its first attempt did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, delete, select

from activities.agent.delegation import best_levels, reach_on
from activities.agent.tables import AgentGrant, AgentResource, AgentStep, AgentToolAudit
from activities.store.db import engine_for, insert_ignore, read_tx, rowcount, tx, utc
from activities.store.store import StoreError, UnknownEntity, UnknownPersona
from activities.store.tables import Entity, Persona
from personas.agent.resources import (
    MAX_GRANTS,
    Grant,
    Level,
    Resource,
    ResourceType,
    Scope,
    ScopedResource,
    check_grant,
)

MAX_ITEMS = 1000
"""At most this many items' audits are read at once."""


class UnknownResource(StoreError):
    """The entity has no resource of that name."""


class ResourceExists(StoreError):
    """The entity already has a resource of that name."""


class InvalidGrant(StoreError, ValueError):
    """A grant the resource cannot give (a level it does not offer)."""


class ToolAuditRecord(BaseModel):
    """One audited tool call: what was called on what, allowed or refused (``reason``: ok,
    the error, or why refused), where its output is and what it used."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    persona_id: str
    item_id: str
    step: int
    tool: str
    resource: str
    args_digest: str
    allowed: bool
    reason: str
    at: datetime
    result_ref: str | None = None
    cpu_ms: int = Field(default=0, ge=0)
    bytes_read: int = Field(default=0, ge=0)
    bytes_written: int = Field(default=0, ge=0)


def _resource(row: AgentResource) -> Resource:
    return Resource(
        entity_id=row.entity_id,
        name=row.name,
        type=ResourceType(row.type),
        location=row.location,
        levels=tuple(Level(v) for v in row.levels),
        description=row.description,
    )


class AgentStore:
    """Resources, grants, step records and the tool audit over the store's engine."""

    def __init__(self, database: Engine | str) -> None:
        """Use ``database``: the process's engine, or a URL for an engine of its own."""
        self._engine = engine_for(database)

    # resources

    def add_resource(self, resource: Resource) -> Resource:
        """Add ``resource`` to its entity; an identical one is accepted again (idempotent)."""
        with tx(self._engine) as s:
            if s.get(Entity, resource.entity_id) is None:
                raise UnknownEntity(f"unknown entity {resource.entity_id}")
            values = {
                "entity_id": resource.entity_id,
                "name": resource.name,
                "type": resource.type.value,
                "location": resource.location,
                "levels": [v.value for v in resource.levels],
                "description": resource.description,
                "created_at": utc(None),
            }
            if not insert_ignore(s, AgentResource, values):
                row = s.get(AgentResource, (resource.entity_id, resource.name))
                if row is None or _resource(row) != resource:
                    raise ResourceExists(
                        f"entity {resource.entity_id} already has a resource {resource.name}"
                    )
        return resource

    def get_resource(self, entity_id: str, name: str) -> Resource:
        """The entity's resource ``name``."""
        with read_tx(self._engine) as s:
            row = s.get(AgentResource, (entity_id, name))
            if row is None:
                raise UnknownResource(f"entity {entity_id} has no resource {name}")
            return _resource(row)

    def list_resources(self, entity_id: str) -> list[Resource]:
        """The entity's resources, by name."""
        with read_tx(self._engine) as s:
            if s.get(Entity, entity_id) is None:
                raise UnknownEntity(f"unknown entity {entity_id}")
            stmt = (
                select(AgentResource)
                .where(AgentResource.entity_id == entity_id)
                .order_by(AgentResource.name)
            )
            return [_resource(r) for r in s.scalars(stmt)]

    def remove_resource(self, entity_id: str, name: str) -> int:
        """Remove the resource and every grant of it; the number of grants revoked."""
        with tx(self._engine) as s:
            revoked = rowcount(
                s.execute(
                    delete(AgentGrant).where(
                        AgentGrant.entity_id == entity_id, AgentGrant.resource == name
                    )
                )
            )
            gone = rowcount(
                s.execute(
                    delete(AgentResource).where(
                        AgentResource.entity_id == entity_id, AgentResource.name == name
                    )
                )
            )
            if not gone:
                raise UnknownResource(f"entity {entity_id} has no resource {name}")
            return revoked

    # grants

    def grant(self, persona_id: str, grants: list[Grant]) -> Scope:
        """Grant the persona these resources of its entity (a new level replaces the old)."""
        with tx(self._engine) as s:
            persona = s.get(Persona, persona_id)
            if persona is None:
                raise UnknownPersona(f"unknown persona {persona_id}")
            for g in grants:
                row = s.get(AgentResource, (persona.entity_id, g.resource))
                if row is None:
                    raise UnknownResource(
                        f"entity {persona.entity_id} has no resource {g.resource}"
                    )
                try:
                    check_grant(_resource(row), g)
                except ValueError as err:
                    raise InvalidGrant(str(err)) from None
                s.execute(
                    delete(AgentGrant).where(
                        AgentGrant.persona_id == persona_id, AgentGrant.resource == g.resource
                    )
                )
                s.add(
                    AgentGrant(
                        persona_id=persona_id,
                        resource=g.resource,
                        entity_id=persona.entity_id,
                        level=g.level.value,
                        granted_at=utc(None),
                    )
                )
        return self.scope(persona_id)

    def revoke(self, persona_id: str, resource: str) -> bool:
        """Revoke the persona's grant of ``resource``; whether there was one."""
        with tx(self._engine) as s:
            stmt = delete(AgentGrant).where(
                AgentGrant.persona_id == persona_id, AgentGrant.resource == resource
            )
            return rowcount(s.execute(stmt)) > 0

    def scope(self, persona_id: str) -> Scope:
        """The persona's current scope: each resource it reaches (granted to it, or
        delegated along a chain from a grant) at the highest level it is given."""
        with read_tx(self._engine) as s:
            persona = s.get(Persona, persona_id)
            if persona is None:
                return Scope(persona_id=persona_id)
            best = best_levels(reach_on(s.connection(), persona.entity_id), persona_id)
            rows = s.scalars(
                select(AgentResource)
                .where(
                    AgentResource.entity_id == persona.entity_id,
                    AgentResource.name.in_(sorted(best)),
                )
                .order_by(AgentResource.name)
            )
            held = tuple(ScopedResource(resource=_resource(r), level=best[r.name]) for r in rows)
        return Scope(persona_id=persona_id, resources=held[:MAX_GRANTS])

    # steps

    def record_step(
        self, persona_id: str, item_id: str, step: int, kind: str, result: dict[str, Any]
    ) -> dict[str, Any]:
        """Record a step's result once; the result recorded first is returned."""
        with tx(self._engine) as s:
            values = {
                "persona_id": persona_id,
                "item_id": item_id,
                "step": step,
                "kind": kind,
                "result": result,
                "recorded_at": utc(None),
            }
            if insert_ignore(s, AgentStep, values):
                return result
            row = s.get(AgentStep, (persona_id, item_id, step))
            assert row is not None
            return dict(row.result)

    def get_step(self, persona_id: str, item_id: str, step: int) -> dict[str, Any] | None:
        """A step's recorded result, or None when it has not been done."""
        with read_tx(self._engine) as s:
            row = s.get(AgentStep, (persona_id, item_id, step))
            return None if row is None else dict(row.result)

    def list_steps(self, persona_id: str, item_id: str) -> list[tuple[int, str, dict[str, Any]]]:
        """The turn's recorded steps (number, kind, result), in order."""
        with read_tx(self._engine) as s:
            stmt = (
                select(AgentStep)
                .where(AgentStep.persona_id == persona_id, AgentStep.item_id == item_id)
                .order_by(AgentStep.step)
            )
            return [(r.step, r.kind, dict(r.result)) for r in s.scalars(stmt)]

    def count_steps(self, persona_id: str, item_id: str) -> int:
        """How many steps of the turn are recorded."""
        with read_tx(self._engine) as s:
            stmt = select(AgentStep.step).where(
                AgentStep.persona_id == persona_id, AgentStep.item_id == item_id
            )
            return len(list(s.scalars(stmt)))

    # audit

    def audit_tool(self, record: ToolAuditRecord) -> bool:
        """Audit a tool call once (keyed by persona, item, step); True when newly added."""
        with tx(self._engine) as s:
            return insert_ignore(s, AgentToolAudit, record.model_dump())

    def item_audit(self, persona_id: str, item_ids: list[str]) -> list[ToolAuditRecord]:
        """The audited tool calls of these items of the persona, by item and step."""
        with read_tx(self._engine) as s:
            stmt = (
                select(AgentToolAudit)
                .where(
                    AgentToolAudit.persona_id == persona_id,
                    AgentToolAudit.item_id.in_(item_ids[:MAX_ITEMS]),
                )
                .order_by(AgentToolAudit.item_id, AgentToolAudit.step)
            )
            return [ToolAuditRecord.model_validate(r) for r in s.scalars(stmt)]

    def tool_audit(self, persona_id: str, limit: int = 100) -> list[ToolAuditRecord]:
        """The persona's latest audited tool calls, oldest first."""
        with read_tx(self._engine) as s:
            stmt = (
                select(AgentToolAudit)
                .where(AgentToolAudit.persona_id == persona_id)
                .order_by(AgentToolAudit.id.desc())
                .limit(max(1, min(limit, 1000)))
            )
            rows = [ToolAuditRecord.model_validate(r) for r in s.scalars(stmt)]
        return rows[::-1]
