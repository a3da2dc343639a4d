"""An agent persona remembers the person it talks to: the next turn's prompt carries the
last exchange, after the worker that answered it is gone and a new one serves the life."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities.agent.activities import AgentActivities
from activities.providers import OfflineDeterministicProvider
from activities.store import Store
from personas.agent.turn import ModelReply
from tests.workflow.agent_support import agent_rig, worker


class RecordingPlanner(OfflineDeterministicProvider):
    """The offline scripted planner, keeping the system prompt of every call it answers."""

    def __init__(self) -> None:
        super().__init__()
        self.systems: list[str] = []

    async def chat(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> ModelReply:
        """Record the system prompt, then plan as the offline provider does."""
        self.systems.append(str(messages[0]["content"]))
        return await super().chat(model, messages, tools)


async def test_the_next_turn_remembers_the_last_across_a_worker_restart(
    dev_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    first = RecordingPlanner()
    rig_of = agent_rig(dev_env.client, sqlite_store, tmp_path, provider=first, serve=False)
    async with rig_of as rig:
        queue = rig.personas.task_queue
        async with worker(dev_env.client, sqlite_store, queue, rig.acts, first):
            pid = await rig.agent("Ada", ["handbook:read", "shop:read"])
            answered = await rig.ask(pid, "list the files in handbook")
        assert first.systems
        assert all("remember" not in s for s in first.systems)  # nothing to remember yet

        second = RecordingPlanner()  # a new worker process: nothing of the first in memory
        acts = AgentActivities(sqlite_store, second, deployment=rig.acts.sandboxes.deployment)
        async with worker(dev_env.client, sqlite_store, queue, acts, second):
            await rig.ask(pid, "how many orders in total?")
        assert second.systems
        for system in second.systems:
            assert "What you remember of person:bob" in system
            assert "asked: list the files in handbook / you answered:" in system
            assert answered.split()[0] in system
        memory = acts.memories.get(pid, "person:bob")
        assert [e.asked for e in memory.window] == [
            "list the files in handbook",
            "how many orders in total?",
        ]
