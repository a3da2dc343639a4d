"""Support for agent turn tests: the shipped fixtures as resources of entity ``acme``, an
agent persona granted some of them, and a worker whose agent sandboxes belong to a
deployment id of the test's own (removed at teardown)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from activities.agent.activities import AgentActivities, StepHook
from activities.agent.fixtures import materialize
from activities.providers import ModelProvider, OfflineDeterministicProvider
from activities.store import Store
from clients.agent_api import AgentClient
from clients.api import PersonaClient
from personas.agent.resources import parse_grant
from personas.life import LifeConfig
from tests.helpers import eventually, profile
from tests.workflow.conftest import end_lives
from workers import registry

ASK = 0.9
"""The priority questions are asked at (urgent: answered at once, never passed)."""


@dataclass
class AgentRig:
    """A persona client, the agent client, the agent activities and the fixture locations."""

    personas: PersonaClient
    agents: AgentClient
    acts: AgentActivities
    store: Store
    locations: dict[str, Path]

    async def agent(self, name: str, scope: list[str], steps: int = 8) -> str:
        """A new agent persona granted ``scope`` (``resource:level``); its id."""
        record = await self.personas.create_persona(
            profile(name, access_scope=()),
            created_by="test",
            life=LifeConfig(agent_max_steps=steps),
        )
        await self.agents.grant(record.persona_id, [parse_grant(s) for s in scope])
        return record.persona_id

    async def ask(self, persona_id: str, question: str, timeout_s: float = 60.0) -> str:
        """Post ``question`` and wait for the answer's text."""
        item = await self.personas.post_to_persona(persona_id, question, "bob", priority=ASK)
        outcome = await eventually(
            lambda: _outcome(self.store, persona_id, item.item_id),
            lambda o: o is not None and o.output_ref is not None,
            timeout_s=timeout_s,
        )
        assert outcome is not None
        assert outcome.output_ref is not None
        return self.store.get_content(outcome.output_ref).text or ""


async def _outcome(store: Store, persona_id: str, item_id: str) -> Any:
    return store.get_outcome(persona_id, item_id)


async def add_fixtures(agents: AgentClient, tmp_path: Path) -> dict[str, Path]:
    """The shipped fixtures as resources of ``acme``: handbook, shop and vault (read only)."""
    locations = materialize(tmp_path / "agent")
    for name, type_ in (("handbook", "files"), ("shop", "sql"), ("vault", "files")):
        await agents.add_resource("acme", name, type_, str(locations[name]))
    return locations


@contextlib.asynccontextmanager
async def agent_rig(
    client: Client,
    store: Store,
    tmp_path: Path,
    provider: ModelProvider | None = None,
    before_step: StepHook | None = None,
    serve: bool = True,
) -> AsyncIterator[AgentRig]:
    """A worker on a fresh queue whose agent sandboxes are owned by a fresh deployment id
    (without ``serve``, the test runs the workers itself, see :func:`worker`)."""
    queue = f"agent-{uuid.uuid4().hex[:8]}"
    provider = provider or OfflineDeterministicProvider()
    acts = AgentActivities(
        store, provider, deployment=f"test-{uuid.uuid4().hex[:10]}", before_step=before_step
    )
    agents = AgentClient(store)
    locations = await add_fixtures(agents, tmp_path)
    rig = AgentRig(PersonaClient(client, store, queue), agents, acts, store, locations)
    try:
        if serve:
            async with worker(client, store, queue, acts, provider):
                yield rig
        else:
            yield rig
        await end_lives(client, store)
    finally:
        release_all(acts)


def worker(
    client: Client, store: Store, queue: str, acts: AgentActivities, provider: ModelProvider
) -> registry.Workers:
    """The life workers (persona lives, agent turns, their activities) on ``queue``."""
    return registry.Workers(
        client, queue, registry.life(store, provider, client, queue, agent=acts)
    )


def release_all(acts: AgentActivities) -> None:
    """Remove every agent sandbox of the activities' deployment."""
    for session in acts.sandboxes.live():
        acts.sandboxes.remove(session)
