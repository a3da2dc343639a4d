"""Updates streamed at a persona that keeps continuing as new (dev server): every caller
learns its outcome exactly once, and no workflow task fails with UNHANDLED_COMMAND."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.store import Store
from clients.api import PersonaClient
from personas.ids import persona_workflow_id
from personas.items import InboxItem
from personas.life import LifeConfig
from runtime.updates import raced_a_new_run
from tests.helpers import acme_store, eventually, persona_worker, profile
from workflows.persona_life import PersonaLife


@pytest.fixture
def life_store(tmp_path: Path) -> Iterator[Store]:
    with acme_store(tmp_path / "store.db", ["repo:web"]) as store:
        yield store


@pytest.fixture
async def personas(dev_env: WorkflowEnvironment, life_store: Store) -> AsyncIterator[PersonaClient]:
    async with persona_worker(dev_env.client, life_store, "upd") as client:
        yield client


async def workflow_task_failures(client: Client, workflow_id: str) -> tuple[int, Counter[str]]:
    """(runs, causes of failed workflow tasks) over every run of the workflow."""
    causes: Counter[str] = Counter()
    runs, run_id = 0, None
    while True:
        runs += 1
        previous = ""
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                attrs = event.workflow_execution_started_event_attributes
                previous = attrs.continued_execution_run_id
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                cause = event.workflow_task_failed_event_attributes.cause
                causes[WorkflowTaskFailedCause.Name(cause)] += 1
        if not previous:
            return runs, causes
        run_id = previous


def item(i: int) -> InboxItem:
    return InboxItem(item_id=f"u{i}", sender_id="bot", priority=0.3, sent_at=datetime.now(UTC))


async def short_lived_run(
    client: Client, personas: PersonaClient
) -> tuple[str, WorkflowHandle[Any, Any]]:
    """A new persona whose life continues as new every 100 history events, started; its id
    and its life's handle."""
    life = LifeConfig(max_history_events=100)
    pid = (await personas.create_persona(profile(), created_by="t", life=life)).persona_id
    await personas.start_life(pid)
    return pid, client.get_workflow_handle(persona_workflow_id(pid))


def test_only_a_race_with_a_closing_run_is_sent_again() -> None:
    assert raced_a_new_run(RPCError("workflow update was aborted", RPCStatusCode.UNAVAILABLE, b""))
    assert raced_a_new_run(RPCError("closing", RPCStatusCode.FAILED_PRECONDITION, b""))
    assert not raced_a_new_run(RPCError("no such workflow", RPCStatusCode.NOT_FOUND, b""))
    assert not raced_a_new_run(ValueError("workflow update was aborted"))


async def test_updates_across_continue_as_new_are_answered_exactly_once(
    dev_env: WorkflowEnvironment, personas: PersonaClient
) -> None:
    pid, handle = await short_lived_run(dev_env.client, personas)
    first_run = (await handle.describe()).run_id
    n, in_flight = 160, 8
    slots = asyncio.Semaphore(in_flight)

    async def post(i: int) -> bool:
        async with slots:
            receipt = await personas.post_checked(pid, item(i))
            return receipt.accepted and receipt.reason is None

    # Every update is answered (none raises), and as its first application: had a retry
    # been applied a second time, its receipt would say "duplicate".
    accepted = await asyncio.gather(*(post(i) for i in range(n)))
    assert all(accepted)
    # Budget updates too, interleaved with the stream.
    assert await personas.set_compute_budget(pid, 0.75) == 0.75
    view = await personas.view(pid)
    assert view.stats.delivered == n
    assert view.stats.duplicates == 0
    assert view.stats.runs > 3
    assert (await handle.describe()).run_id != first_run
    # A repeat of an item under a new update id is a duplicate, as before.
    assert (await personas.post_checked(pid, item(0))).reason == "duplicate"
    runs, causes = await workflow_task_failures(dev_env.client, persona_workflow_id(pid))
    assert runs > 3
    assert causes["WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND"] == 0, causes


async def test_a_repeated_update_id_is_answered_with_the_first_outcome_in_a_later_run(
    dev_env: WorkflowEnvironment, personas: PersonaClient
) -> None:
    _, handle = await short_lived_run(dev_env.client, personas)
    first_run = (await handle.describe()).run_id
    first = await handle.execute_update(PersonaLife.post, item(1), id="same-id")
    assert first.accepted
    for i in range(2, 60):  # enough to continue as new
        await handle.signal(PersonaLife.deliver, item(i))
    await eventually(handle.describe, lambda d: d.run_id != first_run)
    # The new run's server side does not know the id; the workflow remembers it.
    again = await handle.execute_update(PersonaLife.post, item(1), id="same-id")
    assert again == first
    other = await handle.execute_update(PersonaLife.post, item(1), id="other-id")
    assert other.reason == "duplicate"
