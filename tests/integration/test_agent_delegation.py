"""The delegation graph on SQLite and PostgreSQL: persona -> persona delegations never give
more than the delegator holds, graph queries answer who reaches what through which chain,
and a revocation anywhere cuts everything downstream at once."""

from __future__ import annotations

import itertools

import pytest

from activities.agent.delegation import MAX_CHAIN, DelegationRefused, Delegations
from activities.agent.store import AgentStore
from activities.store import Store
from personas.agent.resources import Level, Resource, ResourceType, parse_grant


def _setup(store: Store, personas: list[str]) -> tuple[AgentStore, Delegations]:
    store.upsert_entity("acme", "Acme")
    store.upsert_entity("other", "Other")
    for pid in personas:
        store.create_persona(
            kind="ai", persona_id=pid, entity_id="acme", name=pid, body={}, created_by="t"
        )
    store.create_persona(
        kind="ai", persona_id="x", entity_id="other", name="x", body={}, created_by="t"
    )
    agents = AgentStore(store.engine)
    for name in ("docs", "repo"):
        agents.add_resource(
            Resource(
                entity_id="acme",
                name=name,
                type=ResourceType.FILES,
                location=f"/srv/{name}",
                levels=(Level.READ, Level.WRITE),
            )
        )
    return agents, Delegations(store.engine)


def _chains(d: Delegations, resource: str) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(r.persona_id, r.level, r.chain) for r in d.who_can_reach("acme", resource)]


def test_delegation_chains_and_revocation_downstream(store: Store) -> None:
    agents, d = _setup(store, ["a", "b", "c", "e"])
    agents.grant("a", [parse_grant("docs:write"), parse_grant("repo:read")])
    d.delegate("a", "b", [parse_grant("docs:write"), parse_grant("repo")])
    d.delegate("b", "c", [parse_grant("docs:read")])
    assert _chains(d, "docs") == [
        ("a", "write", ("a",)),
        ("b", "write", ("a", "b")),
        ("c", "read", ("a", "b", "c")),
    ]
    # the scope a turn sees includes what was delegated
    assert [(h.resource.name, h.level) for h in agents.scope("c").resources] == [
        ("docs", Level.READ)
    ]
    assert d.reachable("b", "acme") == {"docs": Level.WRITE, "repo": Level.READ}

    # never more than the delegator holds, never across entities or to itself
    with pytest.raises(DelegationRefused, match="holds it at read"):
        d.delegate("c", "e", [parse_grant("docs:write")])
    with pytest.raises(DelegationRefused, match="does not reach it"):
        d.delegate("c", "e", [parse_grant("repo")])
    with pytest.raises(DelegationRefused, match="within one entity"):
        d.delegate("a", "x", [parse_grant("docs")])
    with pytest.raises(DelegationRefused, match="itself"):
        d.delegate("a", "a", [parse_grant("docs")])

    # a second path survives when one is cut; revoking the root grant cuts everything
    agents.grant("e", [parse_grant("docs:read")])
    d.delegate("e", "c", [parse_grant("docs:read")])
    assert d.revoke("b", "c", "docs")
    assert ("c", "read", ("e", "c")) in _chains(d, "docs")
    assert ("c", "read", ("a", "b", "c")) not in _chains(d, "docs")
    agents.revoke("a", "docs")
    assert _chains(d, "docs") == [("e", "read", ("e",)), ("c", "read", ("e", "c"))]
    assert [h.resource.name for h in agents.scope("b").resources] == ["repo"]
    # removing the resource removes every grant and delegation of it
    agents.remove_resource("acme", "docs")
    assert _chains(d, "docs") == []
    assert [h.resource.name for h in agents.scope("c").resources] == []


def test_cycles_terminate_and_chains_are_bounded(store: Store) -> None:
    names = [f"p{i}" for i in range(MAX_CHAIN + 2)]
    agents, d = _setup(store, names)
    agents.grant(names[0], [parse_grant("docs")])
    for giver, taker in itertools.pairwise(names[: MAX_CHAIN + 1]):
        d.delegate(giver, taker, [parse_grant("docs")])
    # the end of a chain of MAX_CHAIN delegations reaches docs but cannot pass it on
    assert d.reachable(names[MAX_CHAIN], "acme") == {"docs": Level.READ}
    with pytest.raises(DelegationRefused, match=f"longer than {MAX_CHAIN} delegations"):
        d.delegate(names[MAX_CHAIN], names[-1], [parse_grant("docs")])
    d.delegate(names[3], names[1], [parse_grant("docs")])  # a cycle p1 > p2 > p3 > p1
    reached = {r.persona_id for r in d.who_can_reach("acme", "docs")}
    assert reached == set(names[: MAX_CHAIN + 1])
    assert d.reachable(names[-1], "acme") == {}
