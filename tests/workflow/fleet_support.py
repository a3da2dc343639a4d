"""Support for fleet workflow tests: a worker on the simulated fleet, and persona builders."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from activities.fleet.drivers import SimFleet
from activities.store import Store
from personas.fleet.config import ATTRIBUTES, DEFAULT_CONFIG, DOMAIN, FleetConfig
from personas.fleet.persona import FleetPersona, Guard
from workers import registry
from workflows.fleet_adaptation import FleetInput


def persona_for(
    fleet_id: str, optimum: FleetConfig, trigger: float = 0.05, guard: Guard | None = None
) -> FleetPersona:
    """A persona sure of ``optimum`` (probability 0.9 on each of its values)."""
    weights = {
        a: {
            str(v): (0.9 if v == getattr(optimum, a) else 0.1 / (len(DOMAIN[a]) - 1))
            for v in DOMAIN[a]
        }
        for a in ATTRIBUTES
    }
    return FleetPersona(
        fleet_id=fleet_id,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        author="test",
        input_sources=["test"],
        attribute_weights=weights,
        optimum=optimum,
        confidence=0.9,
        deviation_trigger=trigger,
        guard=guard or Guard(),
    )


def fleet_store(path: str) -> Store:
    """A migrated SQLite store with the entity ``acme``."""
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.upsert_entity("acme", "Acme", [])
    return store


@dataclass
class FleetHarness:
    """A worker's queue, its simulated fleet, and the workflows started (for teardown)."""

    client: Client
    queue: str
    fleet: SimFleet
    store: Store
    started: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def fleet_worker(client: Client, store: Store) -> AsyncIterator[FleetHarness]:
    """A worker for the fleet workflows on a simulated fleet; terminates leftovers at the end."""
    queue = f"fleet-{uuid.uuid4().hex[:8]}"
    fleet = SimFleet()
    worker = registry.Workers(
        client,
        queue,
        registry.fleet(store, fleet),
        activity_executor=ThreadPoolExecutor(max_workers=4),
    )
    async with worker:
        h = FleetHarness(client, queue, fleet, store)
        try:
            yield h
        finally:
            for wid in h.started:
                with contextlib.suppress(RPCError):
                    await client.get_workflow_handle(wid).terminate("test over")


@contextlib.asynccontextmanager
async def fleet_rig(client: Client, path: str) -> AsyncIterator[FleetHarness]:
    """:func:`fleet_worker` over a new :func:`fleet_store` at ``path``, disposed after."""
    store = fleet_store(path)
    try:
        async with fleet_worker(client, store) as h:
            yield h
    finally:
        store.dispose()


def acme_fleet(fleet_id: str, persona: FleetPersona | None = None, **fields: Any) -> FleetInput:
    """The input of ``acme``'s fleet ``fleet_id``, running the default configuration; its
    persona is sure of the default unless given."""
    return FleetInput(
        fleet_id=fleet_id,
        entity_id="acme",
        persona=persona if persona is not None else persona_for(fleet_id, DEFAULT_CONFIG),
        current=DEFAULT_CONFIG,
        **fields,
    )
