"""Simulated hours of persona life on the time-skipping server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from clients.api import PersonaClient
from personas import messages
from personas.ids import persona_workflow_id
from personas.items import InboxItem
from personas.life import LifeConfig, PersonaView
from personas.state import StateRules
from runtime import search_attributes as sa
from tests.helpers import eventually, profile


async def cadence_timers(env: WorkflowEnvironment, persona_id: str) -> list[float]:
    """Durations (s) of the cadence timers a persona started, in order, across all its runs."""
    durations: list[float] = []
    handle = env.client.get_workflow_handle(persona_workflow_id(persona_id))
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            attrs = event.timer_started_event_attributes
            if event.user_metadata.summary.data and b"cadence" in event.user_metadata.summary.data:
                durations.append(attrs.start_to_fire_timeout.ToTimedelta().total_seconds())
    return durations


def item(sender: str = "bot-1", priority: float = 0.7, **fields: object) -> InboxItem:
    """A bot item of declared priority."""
    return InboxItem.model_validate(
        {
            "item_id": uuid.uuid4().hex,
            "sender_id": sender,
            "priority": priority,
            "sent_at": datetime.now(UTC),
            **fields,
        }
    )


def within_work(timer_s: float, interval_s: float) -> bool:
    """Whether a cadence timer is the interval less the (short) work of the item before it."""
    return interval_s - 1.0 < timer_s <= interval_s


async def until_view(
    env: WorkflowEnvironment,
    personas: PersonaClient,
    pid: str,
    cond: Callable[[PersonaView], bool],
    step_s: float = 1,
) -> PersonaView:
    """Advance simulated time until the persona's view satisfies ``cond``."""
    return await eventually(
        lambda: personas.view(pid),
        cond,
        advance=lambda: env.sleep(step_s),
    )


async def test_cadence_adapts_to_mood_and_budget(
    time_env: WorkflowEnvironment, time_personas: PersonaClient
) -> None:
    record = await time_personas.create_persona(profile(), created_by="test")
    pid = record.persona_id
    handle = time_env.client.get_workflow_handle(persona_workflow_id(pid))
    await time_personas.start_life(pid)
    assert await time_personas.trigger(pid, "shift_end") == "paused"
    for _ in range(60):
        await handle.signal(messages.DELIVER, item())
    paused = await time_personas.view(pid)
    assert paused.paused
    assert (paused.inbox_size, paused.stats.processed) == (60, 0)
    assert await time_personas.trigger(pid, "shift_start") == "live"
    view = await until_view(time_env, time_personas, pid, lambda v: v.inbox_size == 0, step_s=60)
    assert view.stats.processed == 60
    timers = await cadence_timers(time_env, pid)
    # Flooded (>= 50 waiting) it paces at 10 s; drained but spent (energy < 0.3) at 7 s. A
    # timer waits what is left of the interval once the item's own work is done.
    assert within_work(timers[0], 10.0)
    assert any(within_work(t, 7.0) for t in timers)
    assert view.energy < 0.3

    await time_env.sleep(4 * 3600)
    assert (await time_personas.view(pid)).energy == 1.0
    timers_before = len(await cadence_timers(time_env, pid))
    await deliver_paused(time_personas, handle, pid, 3)
    await until_view(time_env, time_personas, pid, lambda v: v.stats.processed == 63)
    # Rested, the first item is taken at once; with work waiting it is active (5 s); with
    # nothing left it rests without a timer.
    assert all(within_work(t, 5.0) for t in (await cadence_timers(time_env, pid))[-2:])
    assert len(await cadence_timers(time_env, pid)) == timers_before + 2

    await time_personas.set_compute_budget(pid, 0.1)
    await deliver_paused(time_personas, handle, pid, 2)
    await until_view(time_env, time_personas, pid, lambda v: v.stats.processed == 65)
    assert within_work((await cadence_timers(time_env, pid))[-1], 10.0)  # a low budget doubles it


async def deliver_paused(
    personas: PersonaClient, handle: WorkflowHandle[Any, Any], pid: str, n: int
) -> None:
    """Deliver ``n`` items while the persona is paused, so they all wait together."""
    await personas.trigger(pid, "shift_end")
    for _ in range(n):
        await handle.signal(messages.DELIVER, item())
    await personas.trigger(pid, "shift_start")


async def test_overwhelmed_persona_sheds_low_priority_and_serves_urgent_first(
    time_env: WorkflowEnvironment, time_personas: PersonaClient
) -> None:
    record = await time_personas.create_persona(
        profile(),
        created_by="test",
        life=LifeConfig(inbox_capacity=10, state_rules=StateRules(overwhelmed_at_inbox=8)),
    )
    pid = record.persona_id
    handle = time_env.client.get_workflow_handle(persona_workflow_id(pid))
    await time_personas.start_life(pid)
    low = [item(priority=0.7) for _ in range(40)]
    urgent = [item(sender="alice", mentions=("Ada",)) for _ in range(5)]
    for i, message in enumerate(low):
        await handle.signal(messages.DELIVER, message)
        if i % 8 == 0:
            await handle.signal(messages.DELIVER, urgent[i // 8])
    # One simulated second later every urgent item has been processed: none waited a cadence.
    await time_env.sleep(1)
    view = await time_personas.view(pid)
    store = time_personas.store
    assert all(store.get_outcome(pid, u.item_id) is not None for u in urgent)
    assert view.stats.shed >= 40 - 10 - view.stats.processed
    shed = store.shed_items(pid)
    assert len(shed) == view.stats.shed
    assert {s.reason for s in shed} == {"inbox_full"}
    assert {s.item_id for s in shed} <= {m.item_id for m in low}
    # Everything delivered is accounted for once the persona stops.
    stats = await time_personas.stop_life(pid)
    assert stats.processed + stats.passed + store.count_shed(pid) == stats.delivered == 45
    # A stopped persona shows as idle with an empty inbox, not as the overwhelmed one it was.
    shown = (await handle.describe()).typed_search_attributes
    assert shown.get(sa.PERSONA_STATUS) == "stopped"
    assert shown.get(sa.PERSONA_MOOD) == "idle"
    assert shown.get(sa.INBOX_SIZE) == 0
    assert shown.get(sa.PERSONA_NAME) == "Ada"


async def test_continue_as_new_loses_nothing_and_processes_nothing_twice(
    time_env: WorkflowEnvironment, time_personas: PersonaClient
) -> None:
    record = await time_personas.create_persona(
        profile(), created_by="test", life=LifeConfig(max_history_events=100)
    )
    pid = record.persona_id
    handle = time_env.client.get_workflow_handle(persona_workflow_id(pid))
    await time_personas.start_life(pid)
    first_run = (await handle.describe()).run_id
    sent = [item(priority=0.5 + (i % 5) / 10) for i in range(80)]
    for message in sent:
        await handle.signal(messages.DELIVER, message)
    await handle.signal(messages.DELIVER, sent[3])  # a duplicate, recognised after the new run
    # Wait on what the server knows (a later run, its inbox empty), not on queries: the
    # time-skipping server can leave time locked when a query races a continue-as-new.
    await eventually(
        handle.describe,
        lambda d: d.run_id != first_run and d.typed_search_attributes.get(sa.INBOX_SIZE) == 0,
        advance=lambda: time_env.sleep(30),
    )
    view = await time_personas.view(pid)
    assert view.stats.runs > 2
    assert view.stats.delivered == 80
    assert view.stats.duplicates == 1
    assert view.stats.processed + view.stats.passed == 80
    assert time_personas.store.count_outcomes(pid) == view.stats.processed
    assert time_personas.store.count_shed(pid) == 0


async def test_satisfied_dependencies_are_bounded_like_completed_tasks(
    time_env: WorkflowEnvironment, time_personas: PersonaClient
) -> None:
    life = LifeConfig(max_history_events=100, remembered_ids=10)
    record = await time_personas.create_persona(profile(), created_by="test", life=life)
    pid = record.persona_id
    handle = time_env.client.get_workflow_handle(persona_workflow_id(pid))
    await time_personas.start_life(pid)
    first_run = (await handle.describe()).run_id
    for i in range(60):
        done = {"task_key": f"t{i}", "provider_id": "other-persona"}
        await handle.signal(messages.DEPENDENCY_DONE, done)
    described = await eventually(
        handle.describe, lambda d: d.run_id != first_run, advance=lambda: time_env.sleep(1)
    )
    started = None
    async for event in time_env.client.get_workflow_handle(
        handle.id, run_id=described.run_id
    ).fetch_history_events():
        started = event.workflow_execution_started_event_attributes
        break
    assert started is not None
    carried = json.loads(started.input.payloads[0].data)["snapshot"]
    assert 0 < len(carried["satisfied"]) <= 10
    assert carried["satisfied"][-1]["task_key"].startswith("t")
