"""First end-to-end checks of a persona life on the time-skipping server."""

from __future__ import annotations

from functools import partial

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities.contracts import THINK
from clients.api import PersonaClient, PersonaError
from personas.ids import persona_workflow_id
from personas.task_priority import ORDINARY_TASK_PRIORITY, URGENT_TASK_PRIORITY
from tests.helpers import eventually, profile


async def test_mentions_are_processed_and_energy_recovers(
    time_env: WorkflowEnvironment, time_personas: PersonaClient
) -> None:
    record = await time_personas.create_persona(profile(), created_by="test")
    pid = record.persona_id
    for i in range(10):
        await time_personas.post_to_persona(pid, f"@Ada please look at change {i}", "bob")
    view = await eventually(
        lambda: time_personas.view(pid),
        lambda v: v.stats.processed == 10,
        advance=lambda: time_env.sleep(1),
    )
    assert view.energy < 0.9
    await time_env.sleep(3 * 3600)
    rested = await time_personas.view(pid)
    assert rested.energy == 1.0
    assert rested.mood == "idle"


async def test_a_broadcast_wakes_each_persona_once_with_one_shared_content(
    dev_personas: PersonaClient,
) -> None:
    ids = []
    for name in ("Ada", "Bea", "Cy"):
        record = await dev_personas.create_persona(profile(name=name), created_by="test")
        ids.append(record.persona_id)
    items = await dev_personas.post_to_many([*ids, ids[0]], "please check in", "bob")
    assert sorted(items) == sorted(ids)
    assert len({i.item_id for i in items.values()}) == 3
    assert len({i.content_ref for i in items.values()}) == 1
    for pid in ids:
        view = await eventually(
            partial(dev_personas.view, pid),
            lambda v: v.stats.processed == 1,
            timeout_s=60,
        )
        assert view.stats.delivered == 1
        assert (await dev_personas.persona(pid)).life_status == "live"
    with pytest.raises(PersonaError, match=r"unknown persona.*nobody.*nothing sent"):
        await dev_personas.post_to_many([ids[0], "nobody"], "hello", "bob")
    await dev_personas.stop_life(ids[1])
    with pytest.raises(PersonaError, match=rf"stopped persona.*{ids[1]}"):
        await dev_personas.post_to_many(ids, "hello", "bob")


async def test_an_urgent_items_think_is_scheduled_ahead_of_ordinary_thinks(
    dev_personas: PersonaClient,
) -> None:
    record = await dev_personas.create_persona(profile(), created_by="test")
    pid = record.persona_id
    await dev_personas.post_to_persona(pid, "please check in", "bob")
    await dev_personas.post_to_persona(pid, "the build is broken", "pager", priority=0.95)
    await eventually(
        partial(dev_personas.view, pid), lambda v: v.stats.processed == 2, timeout_s=60
    )
    handle = dev_personas.client.get_workflow_handle(persona_workflow_id(pid))
    keys = [
        e.activity_task_scheduled_event_attributes.priority.priority_key
        async for e in handle.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == THINK
    ]
    assert sorted(keys) == [URGENT_TASK_PRIORITY, ORDINARY_TASK_PRIORITY]
