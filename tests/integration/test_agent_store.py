"""Agent resources, grants, step records and tool audit on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from activities.agent.store import AgentStore, ResourceExists, ToolAuditRecord, UnknownResource
from activities.store import Store
from activities.store.tables import Base
from personas.agent.resources import Level, Resource, ResourceType, parse_grant


def _setup(store: Store) -> AgentStore:
    store.upsert_entity("acme", "Acme")
    store.create_persona(
        kind="ai", persona_id="p1", entity_id="acme", name="Ada", body={}, created_by="t"
    )
    return AgentStore(store.engine)


def _files(name: str = "docs", levels: tuple[Level, ...] = (Level.READ,)) -> Resource:
    return Resource(
        entity_id="acme", name=name, type=ResourceType.FILES, location="/srv/docs", levels=levels
    )


def test_schema_matches_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "agent" in repr(d)] == []


def test_resources_grants_and_scope(store: Store) -> None:
    agents = _setup(store)
    agents.add_resource(_files())
    agents.add_resource(_files())  # idempotent
    with pytest.raises(ResourceExists):
        agents.add_resource(_files(levels=(Level.READ, Level.WRITE)))
    sql = Resource(
        entity_id="acme",
        name="shop",
        type=ResourceType.SQL,
        location="/srv/shop.db",
        levels=(Level.READ,),
    )
    agents.add_resource(sql)
    assert [r.name for r in agents.list_resources("acme")] == ["docs", "shop"]

    scope = agents.grant("p1", [parse_grant("docs:read"), parse_grant("shop")])
    assert [(r.resource.name, r.level) for r in scope.resources] == [
        ("docs", Level.READ),
        ("shop", Level.READ),
    ]
    assert scope.allows("docs", ResourceType.FILES, Level.READ)
    assert not scope.allows("docs", ResourceType.FILES, Level.WRITE)
    with pytest.raises(ValueError, match="granted at read"):
        agents.grant("p1", [parse_grant("docs:write")])
    with pytest.raises(UnknownResource):
        agents.grant("p1", [parse_grant("nope")])

    assert agents.remove_resource("acme", "docs") == 1
    assert [r.resource.name for r in agents.scope("p1").resources] == ["shop"]
    assert agents.revoke("p1", "shop")
    assert agents.scope("p1").resources == ()


def test_steps_and_audit_are_recorded_once(store: Store) -> None:
    agents = _setup(store)
    assert agents.record_step("p1", "i1", 0, "model", {"a": 1}) == {"a": 1}
    assert agents.record_step("p1", "i1", 0, "model", {"a": 2}) == {"a": 1}
    assert agents.get_step("p1", "i1", 0) == {"a": 1}
    assert agents.get_step("p1", "i1", 1) is None
    assert agents.count_steps("p1", "i1") == 1
    rec = ToolAuditRecord(
        persona_id="p1",
        item_id="i1",
        step=1,
        tool="files.read",
        resource="secrets",
        args_digest="0" * 64,
        allowed=False,
        reason="not in scope",
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert agents.audit_tool(rec)
    assert not agents.audit_tool(rec)
    assert agents.tool_audit("p1") == [rec]
