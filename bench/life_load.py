"""Life-loop phases of the persona benchmark (dev server, real time): urgent work while a
flood sheds continuously, and how many items one persona sustains with sub-second pacing.

Both are called by ``bench/persona_life.py`` with its persona client and store.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.contracts import THINK
from activities.store import Store
from bench._common import ai_profile, log, percentile, rounded, short_id, wait_for
from clients.api import PersonaClient
from personas import messages
from personas.cadence import CadenceConfig
from personas.ids import persona_workflow_id
from personas.life import LifeConfig
from personas.state import StateRules

POSTERS = 16
"""Posts in flight at once while flooding."""


def _every_mood(seconds: float) -> CadenceConfig:
    return CadenceConfig(active_s=seconds, tired_s=seconds, overwhelmed_s=seconds, idle_s=seconds)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def delivered_and_taken(
    client: Client, workflow_id: str
) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """From the histories of every run of a persona (server time): when each item was
    delivered (its signal) and when the persona took it up (its think was scheduled)."""
    delivered: dict[str, datetime] = {}
    taken: dict[str, datetime] = {}
    run_id: str | None = None
    while True:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        previous = ""
        async for event in handle.fetch_history_events():
            at = event.event_time.ToDatetime(tzinfo=UTC)
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                started = event.workflow_execution_started_event_attributes
                previous = started.continued_execution_run_id
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                signaled = event.workflow_execution_signaled_event_attributes
                if signaled.signal_name == messages.DELIVER and signaled.input.payloads:
                    item = json.loads(signaled.input.payloads[0].data)
                    delivered.setdefault(str(item.get("item_id")), at)
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled = event.activity_task_scheduled_event_attributes
                if scheduled.activity_type.name == THINK and scheduled.input.payloads:
                    request = json.loads(scheduled.input.payloads[0].data)
                    taken.setdefault(str(request["item"]["item_id"]), at)
        if not previous:
            return delivered, taken
        run_id = previous


@dataclass(frozen=True)
class Delivered:
    """One flood item, and when the server had taken it (the post returned)."""

    item_id: str
    delivered_at: datetime
    urgent: bool


async def urgent_during_shed_phase(
    personas: PersonaClient, store: Store, flood_seconds: float
) -> dict[str, Any]:
    """Urgent latency, delivery to processing, while a 10x flood sheds continuously.

    The persona paces ordinary work at 1 s; the flood brings 10 times that into an inbox of
    10, so from its first second on nearly every delivery sheds an item and the overflow
    record is written all the time. One item in ten is urgent (one a second, well within
    what one persona can work on, so the figure is the wait behind chores, not a queue of
    urgent work). The
    latency is taken from the persona's histories (server time): its delivery signal to
    the scheduling of its think.
    """
    pace_s, capacity = 1.0, 10
    life = LifeConfig(
        inbox_capacity=capacity,
        cadence=_every_mood(pace_s),
        state_rules=StateRules(overwhelmed_at_inbox=capacity // 2),
    )
    rate = 10 / pace_s
    n_items = max(20, round(flood_seconds * rate))
    name = f"Shed_{short_id()}"
    record = await personas.create_persona(ai_profile(name), created_by="bench", life=life)
    pid = record.persona_id
    await personas.post_to_persona(pid, "hello", "bob", human=False, priority=0.5)
    log(f"shed-urgent: {n_items} items at {rate:g}/s to one persona paced at {pace_s:g}s")
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(POSTERS)
    t0 = loop.time()

    async def post(i: int) -> Delivered:
        await asyncio.sleep(max(0.0, t0 + i / rate - loop.time()))
        urgent = i % 10 == 5
        async with slots:
            if urgent:
                item = await personas.post_to_persona(
                    pid, f"@{name} the build is broken ({i})", "pager", human=False
                )
            else:
                item = await personas.post_to_persona(
                    pid, f"bot status update {i}", "bot-1", human=False, priority=0.7
                )
        return Delivered(item.item_id, datetime.now(UTC), urgent)

    sent = await asyncio.gather(*(post(i) for i in range(n_items)))
    wall = loop.time() - t0
    urgent = [d for d in sent if d.urgent]

    async def outcomes() -> list[Any]:
        return [await asyncio.to_thread(store.get_outcome, pid, d.item_id) for d in urgent]

    found, _ = await wait_for(outcomes, lambda os: all(o is not None for o in os), timeout_s=60)
    # Outcome recorded, as the client sees it (includes the store's own write queue).
    answered = [
        max(0.0, (_utc(o.recorded_at) - d.delivered_at).total_seconds())
        for d, o in zip(urgent, found, strict=True)
        if o is not None
    ]
    stats = await personas.stop_life(pid)
    arrived, taken = await delivered_and_taken(personas.client, persona_workflow_id(pid))
    latencies = [
        (taken[d.item_id] - arrived[d.item_id]).total_seconds()
        for d in urgent
        if d.item_id in taken and d.item_id in arrived
    ]
    p99 = percentile(latencies, 99)
    log(
        f"shed-urgent: sent {len(sent)} in {wall:.1f}s ({len(sent) / wall:.1f}/s), shed "
        f"{stats.shed}, processed {stats.processed}; urgent delivery to think p99 {p99}s over "
        f"{len(latencies)} ({len(urgent) - len(latencies)} not taken up); to recorded "
        f"outcome p99 {percentile(answered, 99)}s"
    )
    return {
        "urgent_during_shed_p99_s": rounded(p99, 3),
        "urgent_during_shed_max_s": rounded(max(latencies, default=None), 3),
        "urgent_during_shed_outcome_p99_s": rounded(percentile(answered, 99), 3),
        "urgent_during_shed_items": len(urgent),
        "urgent_during_shed_unprocessed": len(urgent) - len(latencies),
        "shed_flood_rate_per_s": rounded(len(sent) / wall if wall else None, 2),
        "shed_flood_shed": stats.shed,
    }


async def pacing_phase(personas: PersonaClient, store: Store, n_items: int) -> dict[str, Any]:
    """Items per second one persona sustains with its pacing configured at 10 ms.

    The items are queued while the persona is paused; the rate is the number of items over
    the time from resuming to the last item's recorded outcome.
    """
    life = LifeConfig(inbox_capacity=max(1000, n_items), cadence=_every_mood(0.01))
    profile = ai_profile(
        f"Pace_{short_id()}", activation_triggers=("resume",), deactivation_triggers=("pause",)
    )
    pid = (await personas.create_persona(profile, created_by="bench", life=life)).persona_id
    await personas.trigger(pid, "resume")
    await personas.trigger(pid, "pause")
    ids = []
    for i in range(n_items):
        item = await personas.post_to_persona(
            pid, f"status update {i}", "bot-1", human=False, priority=0.7
        )
        ids.append(item.item_id)
    log(f"pacing: {n_items} items queued for one persona paced at 10 ms; resuming")
    resumed = datetime.now(UTC)
    await personas.trigger(pid, "resume")

    async def done() -> int:
        return await asyncio.to_thread(store.count_outcomes, pid)

    count, _ = await wait_for(done, lambda c: c >= n_items, timeout_s=300, interval_s=0.2)
    outcomes = [await asyncio.to_thread(store.get_outcome, pid, i) for i in ids]
    last = max((_utc(o.recorded_at) for o in outcomes if o is not None), default=resumed)
    elapsed = (last - resumed).total_seconds()
    rate = count / elapsed if elapsed > 0 else None
    await personas.stop_life(pid)
    log(f"pacing: {count} items in {elapsed:.2f}s = {rate} items/s")
    return {
        "items_per_s_one_persona": rounded(rate, 2),
        "pacing_items": n_items,
        "pacing_processed": count,
    }
