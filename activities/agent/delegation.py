"""The delegation graph: entity -> persona grants, persona -> persona delegations.

A persona may delegate part of what it can reach to another persona of its entity, never
more than it holds. What a persona can reach is computed, never stored: a recursive query
(``WITH RECURSIVE``, the same SQL on SQLite and PostgreSQL) walks from the entity's direct
grants along delegations whose level the delegator holds. So a revoked grant or delegation
cuts everything downstream of it at once: no copy of a reach is left to clean up. Chains are
at most :data:`MAX_CHAIN` delegations long.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Engine, delete, text

from activities.agent.tables import AgentDelegation
from activities.store.db import engine_for, insert_ignore, read_tx, rowcount, tx, utc
from activities.store.store import StoreError, UnknownPersona
from activities.store.tables import Persona
from personas.agent.resources import Grant, Level

MAX_CHAIN = 8

_REACH = """
WITH RECURSIVE reach(persona_id, resource, level, depth, chain) AS (
    SELECT g.persona_id, g.resource, g.level, 0, CAST(g.persona_id AS TEXT)
    FROM agent_grants g
    WHERE g.entity_id = :entity
  UNION
    SELECT d.to_persona, d.resource, d.level, r.depth + 1, r.chain || ' > ' || d.to_persona
    FROM agent_delegations d
    JOIN reach r ON d.from_persona = r.persona_id AND d.resource = r.resource
    WHERE d.entity_id = :entity AND r.depth < :max_chain
      AND (r.level = 'write' OR d.level = 'read')
)
SELECT DISTINCT persona_id, resource, level, depth, chain FROM reach
"""


class Reach(BaseModel):
    """A persona reaches a resource at a level through a chain (entity grant first)."""

    model_config = ConfigDict(frozen=True)

    persona_id: str
    resource: str
    level: Level
    chain: tuple[str, ...]
    """The personas from the directly granted one to ``persona_id``."""


class DelegationRefused(StoreError, ValueError):
    """A delegation of more than the delegator holds, or across entities."""


class Delegations:
    """Delegations between personas and the reach they give, over the store's engine."""

    def __init__(self, database: Engine | str) -> None:
        """Use ``database``: the process's engine, or a URL for an engine of its own."""
        self._engine = engine_for(database)

    def delegate(self, from_persona: str, to_persona: str, grants: list[Grant]) -> None:
        """Delegate ``grants`` from one persona to another of the same entity; refused when
        the delegator does not reach a resource at the level (checked in the same
        transaction as the change)."""
        if from_persona == to_persona:
            raise DelegationRefused("a persona cannot delegate to itself")
        with tx(self._engine) as s:
            giver, taker = s.get(Persona, from_persona), s.get(Persona, to_persona)
            for pid, row in ((from_persona, giver), (to_persona, taker)):
                if row is None:
                    raise UnknownPersona(f"unknown persona {pid}")
            assert giver is not None
            assert taker is not None
            if giver.entity_id != taker.entity_id:
                raise DelegationRefused("delegation stays within one entity")
            reach = reach_on(s.connection(), giver.entity_id)
            held = best_levels(reach, from_persona)
            for g in grants:
                level = held.get(g.resource)
                if level is None or not level.covers(g.level):
                    have = f"holds it at {level}" if level else "does not reach it"
                    raise DelegationRefused(
                        f"{from_persona} cannot delegate {g.resource}:{g.level}: it {have}"
                    )
                shortest = min(
                    len(r.chain)
                    for r in reach
                    if (r.persona_id, r.resource) == (from_persona, g.resource)
                    and r.level.covers(g.level)
                )
                if shortest > MAX_CHAIN:
                    raise DelegationRefused(
                        f"{from_persona} cannot delegate {g.resource}: the chain would be "
                        f"longer than {MAX_CHAIN} delegations"
                    )
                s.execute(
                    delete(AgentDelegation).where(
                        AgentDelegation.from_persona == from_persona,
                        AgentDelegation.to_persona == to_persona,
                        AgentDelegation.resource == g.resource,
                    )
                )
                insert_ignore(
                    s,
                    AgentDelegation,
                    {
                        "from_persona": from_persona,
                        "to_persona": to_persona,
                        "resource": g.resource,
                        "entity_id": giver.entity_id,
                        "level": g.level.value,
                        "granted_at": utc(None),
                    },
                )

    def revoke(self, from_persona: str, to_persona: str, resource: str) -> bool:
        """Revoke one delegation (everything downstream of it loses it too)."""
        with tx(self._engine) as s:
            stmt = delete(AgentDelegation).where(
                AgentDelegation.from_persona == from_persona,
                AgentDelegation.to_persona == to_persona,
                AgentDelegation.resource == resource,
            )
            return rowcount(s.execute(stmt)) > 0

    def reach(self, entity_id: str) -> list[Reach]:
        """Every (persona, resource, level, chain) the entity's graph gives, shortest first."""
        with read_tx(self._engine) as s:
            return reach_on(s.connection(), entity_id)

    def who_can_reach(self, entity_id: str, resource: str) -> list[Reach]:
        """Who reaches ``resource`` of the entity, at what level, through which chain."""
        return [r for r in self.reach(entity_id) if r.resource == resource]

    def reachable(self, persona_id: str, entity_id: str) -> dict[str, Level]:
        """The resources the persona reaches, each at the highest level it is given."""
        return best_levels(self.reach(entity_id), persona_id)


def reach_on(conn: Connection, entity_id: str) -> list[Reach]:
    """The entity's reach, read on ``conn`` (inside the caller's transaction)."""
    rows = conn.execute(text(_REACH), {"entity": entity_id, "max_chain": MAX_CHAIN}).all()
    found = [
        Reach(
            persona_id=r.persona_id,
            resource=r.resource,
            level=Level(r.level),
            chain=tuple(r.chain.split(" > ")),
        )
        for r in rows
    ]
    return sorted(found, key=lambda r: (len(r.chain), r.persona_id, r.resource, r.chain))


def best_levels(reach: list[Reach], persona_id: str) -> dict[str, Level]:
    """The resources ``persona_id`` reaches in ``reach``, each at its highest level."""
    best: dict[str, Level] = {}
    for r in reach:
        if r.persona_id == persona_id and (r.resource not in best or r.level is Level.WRITE):
            best[r.resource] = r.level
    return best
