"""Room scenarios of the persona-life benchmark (``bench/persona_life.py`` runs them).

* :func:`cap1_phase` (time-skipping server): one responder, 14 members, waves arriving back
  to back (the next message as soon as the last was decided), then waves 11 s apart; Jain's
  index over grants and the wave by which every member had been granted.
* :func:`mention_phase` (dev server, real time): a room of 15 members gets bursts of AI-to-AI
  posts; in the middle of each burst a person @mentions one member. The latency is from the
  post (the item's ``sent_at``) to the moment the mentioned persona's think activity starts
  (its ``ActivityTaskStarted`` event in the persona's history).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import partial
from typing import Any

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.contracts import THINK
from bench._common import (
    ai_profile,
    bounded_gather,
    log,
    percentile,
    room_fairness,
    rounded,
    short_id,
    wait_for,
)
from clients.api import PersonaClient
from personas.coordination import FloorPolicy
from personas.ids import persona_workflow_id, room_workflow_id
from personas.rooms import RoomView

POST_CONCURRENCY = 16


async def _create(personas: PersonaClient, names: list[str]) -> list[str]:
    ids = []
    for name in names:
        record = await personas.create_persona(ai_profile(name), created_by="bench")
        ids.append(record.persona_id)
    return ids


# ----------------------------------------------------------------------------- fair turns


async def _waves(
    env: WorkflowEnvironment,
    personas: PersonaClient,
    ids: list[str],
    waves: int,
    gap_s: float,
    label: str,
) -> dict[str, Any]:
    """Post ``waves`` messages, each once the previous was decided (then ``gap_s`` later)."""
    room_id = f"bench-cap1-{label}-{short_id()}"
    await personas.create_room(room_id, ids, FloorPolicy(responders=1))
    first_grant: dict[str, int] = {}
    undecided = 0
    view: RoomView | None = None
    for wave in range(waves):
        await personas.post_to_room(
            room_id, f"please review python code change {wave}", "alice", human=True
        )
        seen, ok = await wait_for(
            partial(personas.room, room_id),
            lambda v, n=wave + 1: v.decided >= n,  # type: ignore[misc]
            timeout_s=60,
            advance=lambda: env.sleep(0.5),
        )
        undecided += not ok
        view = seen
        for pid, count in seen.grants_total.items():
            if count and pid not in first_grant:
                first_grant[pid] = wave + 1
        if gap_s:
            await env.sleep(gap_s)
    assert view is not None
    grants, index = room_fairness(view, ids)
    to_all = max(first_grant.values()) if len(first_grant) == len(ids) else None
    log(
        f"cap1 {label}: {view.decided}/{waves} decided, grants {grants}, Jain {index:.4f}, "
        f"every member granted by wave {to_all}, late bids {view.late_bids} "
        f"({view.late_credited} credited)"
    )
    return {
        "jain": rounded(index),
        "waves_to_all": to_all,
        "grants": grants,
        "undecided": undecided,
        "late_bids": view.late_bids,
        "late_credited": view.late_credited,
    }


async def cap1_phase(env: WorkflowEnvironment, personas: PersonaClient, waves: int) -> dict:
    """Fair turns at default settings: one responder, 14 members (time-skipping server)."""
    run = short_id()
    ids = await _create(personas, [f"Cap_{run}_{i:02d}" for i in range(14)])
    log(f"cap1: 14 members, one responder, {waves} back-to-back waves, then 11 s apart")
    back = await _waves(env, personas, ids, waves, 0.0, "back-to-back")
    spaced = await _waves(env, personas, ids, waves, 11.0, "spaced")
    return {
        "room_cap1_jain": back["jain"],
        "room_cap1_waves_to_all": back["waves_to_all"],
        "room_cap1_waves": waves,
        "room_cap1_grants": back["grants"],
        "room_cap1_undecided": back["undecided"],
        "room_cap1_late_bids": back["late_bids"],
        "room_cap1_late_credited": back["late_credited"],
        "room_cap1_spaced_jain": spaced["jain"],
        "room_cap1_spaced_waves_to_all": spaced["waves_to_all"],
        "room_cap1_spaced_undecided": spaced["undecided"],
    }


# ----------------------------------------------------------------------------- mentions


def _carries(payloads: Any, item_id: str) -> bool:
    needle = item_id.encode()
    return any(needle in p.data for p in payloads.payloads)


def _at(event: Any) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


async def mention_trace(
    client: Client, room_id: str, persona_id: str, item_id: str
) -> dict[str, datetime]:
    """Where a mention's time went: when the room scheduled its delivery, when the persona
    received it, scheduled its think, and when the think started (from the histories)."""
    trace: dict[str, datetime] = {}
    room = client.get_workflow_handle(room_workflow_id(room_id))
    async for event in room.fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes"):
            delivery = event.activity_task_scheduled_event_attributes
            if _carries(delivery.input, item_id):
                trace["delivery_scheduled"] = _at(event)
                break
    persona = client.get_workflow_handle(persona_workflow_id(persona_id))
    scheduled: int | None = None
    async for event in persona.fetch_history_events():
        if event.HasField("workflow_execution_signaled_event_attributes"):
            signaled = event.workflow_execution_signaled_event_attributes
            if "received" not in trace and _carries(signaled.input, item_id):
                trace["received"] = _at(event)
        elif event.HasField("workflow_execution_started_event_attributes"):
            started = event.workflow_execution_started_event_attributes
            if "received" not in trace and _carries(started.input, item_id):
                trace["received"] = _at(event)
        elif event.HasField("activity_task_scheduled_event_attributes"):
            attrs = event.activity_task_scheduled_event_attributes
            if attrs.activity_type.name == THINK and _carries(attrs.input, item_id):
                scheduled = event.event_id
                trace["think_scheduled"] = _at(event)
        elif (
            scheduled is not None
            and event.HasField("activity_task_started_event_attributes")
            and event.activity_task_started_event_attributes.scheduled_event_id == scheduled
        ):
            trace["think_started"] = _at(event)
            break
    return trace


async def mention_phase(client: Client, personas: PersonaClient, rounds: int, burst: int) -> dict:
    """Human @mentions in a room of 15 members flooded with AI-to-AI posts (dev server)."""
    run = short_id()
    names = [f"Talk_{run}_{i:02d}" for i in range(15)]
    ids = await _create(personas, names)
    # The room's members are living personas, as in a room people use: the burst measures a
    # busy room, not fifteen first starts (one life's first task imports its workflow anew).
    await bounded_gather([partial(personas.start_life, pid) for pid in ids], POST_CONCURRENCY)
    await bounded_gather([partial(personas.view, pid) for pid in ids], POST_CONCURRENCY)
    room_id = f"bench-mention-{run}"
    await personas.create_room(room_id, ids, FloorPolicy(responders=1))
    log(f"mention: room of 15; {rounds} bursts of {burst} AI posts, a human @mention in each")
    latencies: list[float] = []
    parts: dict[str, list[float]] = {}
    missing = 0
    t0 = time.monotonic()
    for r in range(rounds):
        target = r % len(ids)

        def chatter(i: int, r: int = r) -> Any:
            sender = ids[(i + r + 1) % len(ids)]
            return partial(
                personas.post_to_room,
                room_id,
                f"status from the build bot: step {r}-{i} of the nightly pipeline passed",
                sender,
                human=False,
            )

        half = burst // 2
        await bounded_gather([chatter(i) for i in range(half)], POST_CONCURRENCY)
        mention = await personas.post_to_room(
            room_id, f"@{names[target]} can you look at the failing test? ({r})", "alice"
        )
        await bounded_gather([chatter(i) for i in range(half, burst)], POST_CONCURRENCY)
        trace, ok = await wait_for(
            partial(mention_trace, client, room_id, ids[target], mention.item_id),
            lambda t: "think_started" in t,
            timeout_s=120,
            interval_s=0.2,
        )
        if not ok:
            missing += 1
            continue
        steps = {k: (at - mention.sent_at).total_seconds() for k, at in trace.items()}
        latencies.append(steps["think_started"])
        for step, seconds in steps.items():
            parts.setdefault(step, []).append(seconds)
        shown = ", ".join(f"{k} {v:.3f}s" for k, v in steps.items())
        log(f"mention: round {r}: after the post: {shown}")
    view = await personas.room(room_id)
    p95, worst = percentile(latencies, 95), max(latencies, default=None)
    log(
        f"mention: p95 {p95}s max {worst}s over {len(latencies)} mentions ({missing} missing) "
        f"in {time.monotonic() - t0:.1f}s; room decided {view.decided}, "
        f"{view.undelivered} undelivered, {view.shed} shed"
    )
    return {
        "room_mention_p95_s": rounded(p95, 3),
        "room_mention_max_s": rounded(worst, 3),
        "room_mention_samples": len(latencies),
        "room_mention_missing": missing,
        "room_mention_burst": burst,
        "room_mention_room_shed": view.shed,
        "room_mention_steps_p95_s": {k: rounded(percentile(v, 95), 3) for k, v in parts.items()},
    }
