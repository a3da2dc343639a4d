"""Benchmark of the persona life: idle cost, urgent latency under a flood, shedding, fairness,
how many live personas one worker holds, urgent work while a flood sheds, and the items per
second one persona sustains at 10 ms pacing (``bench/life_load.py``).

Run from the repository root::

    .venv/bin/python bench/persona_life.py --quick   # under a minute
    .venv/bin/python bench/persona_life.py           # the full run, a few minutes

Everything runs on real servers started from the installed wheels, with SQLite stores in
temporary directories and the offline deterministic provider:

* a child process runs the simulated-time phases side by side, each on its own
  time-skipping test server with an in-process worker: the workflow tasks an idle persona
  costs per hour, and the fairness of floor grants in a room;
* meanwhile this process starts the dev server and one worker in a child process (its own
  interpreter lock, as in production) and floods one persona in real time (urgent latency,
  shedding); once the child is done it @mentions members of a room flooded with AI posts
  (measured without the child beside it), then starts many personas on that one worker.

The room scenarios (one responder among 14 members, mentions in a busy room of 15) are in
``bench/persona_rooms.py``.

``--sequential`` runs the simulated-time phases before the flood instead of beside it.
Progress lines come first; the last line is one JSON object with every figure. Every figure
is measured; a phase that fails reports ``null`` and its error under ``errors`` (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from activities.store import Store  # noqa: E402
from bench._common import (  # noqa: E402
    ai_profile,
    bounded_gather,
    emit,
    log,
    percentile,
    persona_worker,
    room_fairness,
    rounded,
    settled_task_counts,
    short_id,
    temp_store,
    wait_for,
    worker_process,
)
from bench.life_load import pacing_phase, urgent_during_shed_phase  # noqa: E402
from bench.persona_rooms import cap1_phase, mention_phase  # noqa: E402
from clients.api import PersonaClient, PersonaError  # noqa: E402
from personas.coordination import FloorPolicy  # noqa: E402
from personas.ids import persona_workflow_id  # noqa: E402
from personas.life import LifeConfig, PersonaView  # noqa: E402
from personas.rooms import RoomView  # noqa: E402
from personas.state import StateRules  # noqa: E402
from runtime.servers import dev_server_env as dev_env  # noqa: E402
from runtime.servers import time_skipping_env  # noqa: E402

#: Waves of the one-responder room (two rounds of its 14 members in the quick run).
ROOM_WAVES = {"quick": 28, "full": 70}
#: Bursts with a human @mention each, and AI posts per burst, in the room of 15.
ROOM_MENTIONS = {"quick": (5, 40), "full": (20, 80)}
QUERY_CONCURRENCY = 16
POST_CONCURRENCY = 16


@dataclass(frozen=True)
class Scale:
    """How big each phase is."""

    mode: str
    idle_personas: int
    idle_hours: float
    room_messages: int
    flood_seconds: float
    live_personas: int
    pacing_items: int


QUICK = Scale(
    "quick",
    idle_personas=20,
    idle_hours=24,
    room_messages=30,
    flood_seconds=20,
    live_personas=200,
    pacing_items=100,
)
FULL = Scale(
    "full",
    idle_personas=100,
    idle_hours=72,
    room_messages=100,
    flood_seconds=90,
    live_personas=1000,
    pacing_items=300,
)


def _calls(
    fn: Callable[..., Awaitable[Any]], ids: list[str], *args: Any, **kwargs: Any
) -> list[Callable[[], Awaitable[Any]]]:
    return [partial(fn, pid, *args, **kwargs) for pid in ids]


async def _views(personas: PersonaClient, ids: list[str]) -> list[PersonaView]:
    return await bounded_gather(_calls(personas.view, ids), QUERY_CONCURRENCY)


async def _create(
    personas: PersonaClient,
    names: list[str],
    entity_id: str = "acme",
    life: LifeConfig | None = None,
) -> list[str]:
    """Store one persona per (unique) name; their ids."""
    ids = []
    for name in names:
        record = await personas.create_persona(
            ai_profile(name, entity_id=entity_id), created_by="bench", life=life
        )
        ids.append(record.persona_id)
    return ids


# ----------------------------------------------------------------------------- idle cost


async def idle_phase(env: WorkflowEnvironment, personas: PersonaClient, scale: Scale) -> dict:
    """Workflow tasks an idle persona costs per simulated hour (time-skipping server)."""
    n, hours = scale.idle_personas, scale.idle_hours
    run = short_id()
    ids = await _create(personas, [f"Idle_{run}_{i:04d}" for i in range(n)])
    log(f"idle: {n} personas created; posting one message each")
    await bounded_gather(
        _calls(
            personas.post_to_persona, ids, "please look at the nightly build", "bob", priority=0.5
        ),
        POST_CONCURRENCY,
    )
    views, ok = await wait_for(
        partial(_views, personas, ids),
        lambda vs: all(v.stats.processed >= 1 and v.inbox_size == 0 for v in vs),
        timeout_s=60,
        interval_s=0.2,
    )
    processed = sum(1 for v in views if v.stats.processed >= 1)
    log(f"idle: {processed}/{n} processed their message (reached={ok})")
    # Let every cadence wait that follows the work run out, so all personas rest.
    cadence = LifeConfig().cadence
    await env.sleep(max(cadence.active_s, cadence.tired_s, cadence.idle_s) + 1)
    workflow_ids = [persona_workflow_id(pid) for pid in ids]
    before, settled_before = await settled_task_counts(env.client, workflow_ids)
    log(f"idle: {sum(before.values())} workflow tasks so far; skipping {hours:g} h")
    t0 = time.monotonic()
    # In steps of one territory scan: one long skip can outlast the test server's RPC timeout.
    step_s = LifeConfig().territory_scan_s
    skipped = 0.0
    while skipped < hours * 3600:
        step = min(step_s, hours * 3600 - skipped)
        await env.sleep(step)
        skipped += step
    skip_wall = time.monotonic() - t0
    after, settled_after = await settled_task_counts(env.client, workflow_ids)
    added = sum(after[w] - before[w] for w in workflow_ids)
    views = await _views(personas, ids)
    scans = sum(v.stats.territory_scans for v in views)
    moods = Counter(v.mood.value for v in views)
    per_hour = added / (n * hours)
    log(
        f"idle: {added} tasks added over {hours:g} h by {n} personas = {per_hour:.3f} "
        f"per persona-hour (territory scans {scans}, moods {dict(moods)}, "
        f"skip took {skip_wall:.1f}s wall)"
    )
    return {
        "idle_tasks_per_persona_hour": rounded(per_hour),
        "idle_personas": n,
        "idle_hours": hours,
        "idle_processed": processed,
        "idle_tasks_added": added,
        "idle_territory_scans": scans,
        "idle_counts_settled": settled_before and settled_after,
        "idle_skip_wall_s": rounded(skip_wall, 2),
    }


# ----------------------------------------------------------------------------- fairness


def _decided(n: int) -> Callable[[RoomView], bool]:
    return lambda view: view.decided >= n


def _decided_or_refused(n: int, late_bids: int) -> Callable[[RoomView], bool]:
    return lambda view: view.decided >= n or view.late_bids > late_bids


async def _worked_on(store: Store, ids: list[str], item_id: str) -> bool:
    """Whether every persona has recorded an outcome for the item (the store, no queries)."""
    for pid in ids:
        if await asyncio.to_thread(store.get_outcome, pid, item_id) is None:
            return False
    return True


def _true(value: bool) -> bool:
    return value


async def fairness_phase(
    env: WorkflowEnvironment, personas: PersonaClient, store: Store, scale: Scale
) -> dict:
    """Jain's index over floor grants in a room of equal personas (time-skipping server).

    Messages are posted one at a time. After each, the benchmark waits (in real time) until
    every member has worked on it (its outcome is in the store; the bid follows at once),
    gives the room a moment to decide, then skips simulated time past the decision deadline
    and every member's cadence wait, so that all members are equally loaded and resting when
    the next message arrives.
    """
    run = short_id()
    ids = await _create(personas, [f"Fair_{run}_{i}" for i in range(5)])
    room_id = f"bench-room-{run}"
    policy = FloorPolicy(responders=1)
    await personas.create_room(room_id, ids, policy)
    cadence = LifeConfig().cadence
    # After its last queued item a persona paces at the idle interval (the longest one).
    settle_s = (
        max(cadence.active_s, cadence.tired_s, cadence.idle_s, policy.decision_deadline_s) + 0.5
    )
    slow, undecided, unhandled, late_bids = 0, 0, 0, 0
    log(f"fairness: room of 5 personas; posting {scale.room_messages} messages")
    for i in range(scale.room_messages):
        item = await personas.post_to_room(
            room_id, f"please review python code change {i}", "alice", human=True
        )
        _, all_worked = await wait_for(
            partial(_worked_on, store, ids, item.item_id), _true, timeout_s=30, interval_s=0.05
        )
        unhandled += not all_worked
        # Every bid is on its way; a complete floor is decided within moments. A bid the
        # room refused as late means this floor can only be decided at its deadline.
        seen, _ = await wait_for(
            partial(personas.room, room_id),
            _decided_or_refused(i + 1, late_bids),
            timeout_s=0.3,
            interval_s=0.05,
        )
        slow += seen.decided < i + 1
        await env.sleep(settle_s)
        now, ok = await wait_for(
            partial(personas.room, room_id), _decided(i + 1), timeout_s=10, interval_s=0.1
        )
        undecided += not ok
        late_bids = now.late_bids
        if (i + 1) % 10 == 0:
            log(
                f"fairness: {now.decided} decided ({slow} only at the deadline), "
                f"grants {sorted(now.grants_total.values())}, late bids {now.late_bids}"
            )
    view = await personas.room(room_id)
    grants, index = room_fairness(view, ids)
    log(
        f"fairness: decided {view.decided}/{scale.room_messages} ({slow} only at the "
        f"deadline), grants {grants} (members in room order), late bids {view.late_bids}, "
        f"Jain {index:.4f}"
    )
    return {
        "jain_fairness": rounded(index),
        "room_messages": scale.room_messages,
        "room_decided": view.decided,
        "room_decided_at_deadline": slow,
        "room_grants": grants,
        "room_late_bids": view.late_bids,
        "room_undecided": undecided,
        "room_unhandled": unhandled,
    }


# ----------------------------------------------------------------------------- flood


@dataclass
class Sent:
    """One item of the flood as it was sent."""

    item_id: str
    sent_at: datetime
    urgent: bool


@dataclass
class Watch:
    """What the flooded persona looked like while the flood ran."""

    moods: Counter[str] = field(default_factory=Counter)
    max_inbox: int = 0


async def _watch(personas: PersonaClient, pid: str, watch: Watch, done: asyncio.Event) -> None:
    while not done.is_set():
        try:
            view = await personas.view(pid)
            watch.moods[view.mood.value] += 1
            watch.max_inbox = max(watch.max_inbox, view.inbox_size)
        except PersonaError:
            pass  # not started yet
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=1.0)


def _as_dict(stats: object) -> dict[str, Any]:
    """Final counters as a dict, whether the client returns a model or a dict."""
    if isinstance(stats, BaseModel):
        return stats.model_dump()
    return dict(stats)  # type: ignore[call-overload]


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def flood_phase(personas: PersonaClient, store: Store, scale: Scale) -> dict:
    """Urgent latency and shedding when one persona gets 10x what it can process (dev server)."""
    capacity = 20
    life = LifeConfig(
        inbox_capacity=capacity,
        # The default overwhelmed_at_inbox (50) is above this capacity: the persona would
        # never become overwhelmed. Half the capacity makes the flood overwhelm it.
        state_rules=StateRules(overwhelmed_at_inbox=capacity // 2),
    )
    interval = LifeConfig().cadence.overwhelmed_s
    rate = 10 / interval
    period = 1 / rate
    n_items = max(10, round(scale.flood_seconds * rate))
    run = short_id()
    name = f"Flood_{run}"
    (pid,) = await _create(personas, [name], life=life)
    log(
        f"flood: {n_items} items at {rate:.2f}/s for {scale.flood_seconds:g}s to one persona "
        f"(capacity 1 per {interval:g}s, inbox {capacity}), 1 in 10 urgent"
    )
    watch, done = Watch(), asyncio.Event()
    watcher = asyncio.create_task(_watch(personas, pid, watch, done))
    sent: list[Sent] = []
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    try:
        for i in range(n_items):
            await asyncio.sleep(max(0.0, t0 + i * period - loop.time()))
            urgent = i % 10 == 5
            if urgent and (i // 10) % 2 == 0:
                item = await personas.post_to_persona(
                    pid, f"alert {i}: disk almost full", "monitor", human=False, priority=0.95
                )
            elif urgent:
                item = await personas.post_to_persona(
                    pid, f"@{name} production is down ({i})", "pager", human=False
                )
            else:
                item = await personas.post_to_persona(
                    pid, f"bot status update {i}", "bot-1", human=False, priority=0.7
                )
            sent.append(Sent(item.item_id, item.sent_at, urgent))
        flood_wall = loop.time() - t0
        urgent_items = [s for s in sent if s.urgent]
        log(f"flood: sent {len(sent)} in {flood_wall:.1f}s; waiting for urgent outcomes")

        async def urgent_outcomes() -> list[Any]:
            return [
                await asyncio.to_thread(store.get_outcome, pid, s.item_id) for s in urgent_items
            ]

        outcomes, _ = await wait_for(
            urgent_outcomes, lambda os: all(o is not None for o in os), timeout_s=30
        )
    finally:
        done.set()
        await watcher
    latencies = [
        (_utc(o.recorded_at) - s.sent_at).total_seconds()
        for s, o in zip(urgent_items, outcomes, strict=True)
        if o is not None
    ]
    unprocessed = sum(1 for o in outcomes if o is None)
    view_before_stop = await personas.view(pid)
    log(f"flood: stopping; {view_before_stop.inbox_size} items still queued")
    stats = _as_dict(await personas.stop_life(pid))
    recorded_shed = {r.item_id: r.reason for r in await asyncio.to_thread(store.shed_items, pid)}
    count_shed = await asyncio.to_thread(store.count_shed, pid)
    with_outcome = {
        s.item_id
        for s in sent
        if await asyncio.to_thread(store.get_outcome, pid, s.item_id) is not None
    }
    neither = [s.item_id for s in sent if s.item_id not in with_outcome | set(recorded_shed)]
    both = with_outcome & set(recorded_shed)
    shed_lost = (stats["shed"] - count_shed) + max(0, len(neither) - stats["passed"])
    reasons = Counter(recorded_shed.values())
    urgent_shed = sum(1 for s in urgent_items if s.item_id in recorded_shed)
    log(
        f"flood: sent {len(sent)}, delivered {stats['delivered']}, processed "
        f"{stats['processed']}, passed {stats['passed']}, shed {stats['shed']} (recorded "
        f"{count_shed}: {dict(reasons)}), failed {stats['failed']}, outcomes {len(with_outcome)}, "
        f"in neither {len(neither)}, in both {len(both)}"
    )
    p95, worst = percentile(latencies, 95), max(latencies, default=None)
    log(
        f"flood: urgent latency p95 {p95}s max {worst}s over {len(latencies)} urgent items "
        f"({unprocessed} unprocessed, {urgent_shed} shed); moods seen {dict(watch.moods)}, "
        f"max inbox {watch.max_inbox}"
    )
    return {
        "urgent_p95_s": rounded(p95, 3),
        "urgent_max_s": rounded(worst, 3),
        "urgent_unprocessed": unprocessed,
        "urgent_items": len(urgent_items),
        "urgent_shed": urgent_shed,
        "shed_lost": shed_lost,
        "flood_items": len(sent),
        "flood_seconds": rounded(flood_wall, 2),
        "flood_rate_per_s": rounded(len(sent) / flood_wall if flood_wall else None, 3),
        "flood_inbox_capacity": capacity,
        "flood_delivered": stats["delivered"],
        "flood_processed": stats["processed"],
        "flood_passed": stats["passed"],
        "flood_shed": stats["shed"],
        "flood_shed_recorded": count_shed,
        "flood_shed_reasons": dict(reasons),
        "flood_failed": stats["failed"],
        "flood_in_neither": len(neither),
        "flood_in_both": len(both),
        "flood_moods_seen": dict(watch.moods),
        "flood_max_inbox": watch.max_inbox,
    }


# ----------------------------------------------------------------------------- live


async def live_phase(
    env: WorkflowEnvironment, personas: PersonaClient, store: Store, scale: Scale
) -> dict:
    """How many personas one worker holds live, each having processed a message."""
    p = scale.live_personas
    run = short_id()
    entity = f"bench-{run}"
    await asyncio.to_thread(store.upsert_entity, entity, "Bench live", ["repo:web"])
    t0 = time.monotonic()
    ids = await _create(personas, [f"Live_{run}_{i:04d}" for i in range(p)], entity_id=entity)
    create_wall = time.monotonic() - t0
    log(f"live: {p} personas stored in {create_wall:.1f}s; starting them")
    t0 = time.monotonic()
    await bounded_gather(
        _calls(personas.post_to_persona, ids, "hello, please check in", "bob", priority=0.5),
        POST_CONCURRENCY,
    )
    start_wall = time.monotonic() - t0
    log(f"live: {p} started (signal-with-start) in {start_wall:.1f}s")
    query = f'PersonaKind="ai" AND ExecutionStatus="Running" AND EntityId="{entity}"'

    async def running() -> int:
        return (await env.client.count_workflows(query)).count

    count, _ = await wait_for(running, lambda c: c >= p, timeout_s=120, interval_s=1.0)
    log(f"live: {count} running by count_workflows")
    pending = list(ids)
    confirmed: set[str] = set()
    deadline = time.monotonic() + (120 if scale.mode == "quick" else 300)
    while pending and time.monotonic() < deadline:
        views = await _views(personas, pending)
        confirmed |= {pid for pid, v in zip(pending, views, strict=True) if v.stats.processed >= 1}
        pending = [pid for pid in pending if pid not in confirmed]
        if pending:
            log(f"live: {len(confirmed)} processed, {len(pending)} to go")
            await asyncio.sleep(1.0)
    processed_wall = time.monotonic() - t0
    running_ids = {wf.id async for wf in env.client.list_workflows(query)}
    live = sum(1 for pid in confirmed if persona_workflow_id(pid) in running_ids)
    log(
        f"live: {live} running and processed ({len(running_ids)} listed running, "
        f"{len(confirmed)} processed) {processed_wall:.1f}s after the first start"
    )
    return {
        "live_personas": live,
        "live_target": p,
        "live_running_count": count,
        "live_processed": len(confirmed),
        "live_create_wall_s": rounded(create_wall, 2),
        "live_start_wall_s": rounded(start_wall, 2),
        "live_all_processed_wall_s": rounded(processed_wall, 2),
    }


# ----------------------------------------------------------------------------- main


async def _phase(
    name: str,
    result: dict[str, Any],
    errors: dict[str, str],
    run: Callable[[], Awaitable[dict[str, Any]]],
) -> None:
    t0 = time.monotonic()
    try:
        result.update(await run())
    except Exception as err:
        errors[name] = f"{type(err).__name__}: {err}"
        log(f"{name}: FAILED {errors[name]}")
        traceback.print_exc()
    result[f"{name}_wall_s"] = round(time.monotonic() - t0, 2)


async def time_skipping_part(scale: Scale) -> dict[str, Any]:
    """The idle and fairness phases, side by side, each on its own time-skipping server, then
    the one-responder room on a third.

    The result line is printed as soon as the phases end, before the server and worker
    shut down, so the parent can go on; shutdown problems go to standard error.
    """
    result: dict[str, Any] = {}
    errors: dict[str, str] = {}
    result["errors"] = errors
    try:
        with temp_store() as store:
            log("starting two time-skipping test servers (simulated time is per server)")
            async with (
                time_skipping_env() as idle_env,
                time_skipping_env() as room_env,
                time_skipping_env() as cap_env,
                persona_worker(idle_env.client, store) as idle_personas,
                persona_worker(room_env.client, store) as room_personas,
                persona_worker(cap_env.client, store) as cap_personas,
            ):
                await asyncio.gather(
                    _phase(
                        "idle", result, errors, partial(idle_phase, idle_env, idle_personas, scale)
                    ),
                    _phase(
                        "fairness",
                        result,
                        errors,
                        partial(fairness_phase, room_env, room_personas, store, scale),
                    ),
                )
                # After the fairness phase, not beside it: its real-time bounds would feel the
                # load of 14 more personas in this process.
                await _phase(
                    "room_cap1",
                    result,
                    errors,
                    partial(cap1_phase, cap_env, cap_personas, ROOM_WAVES[scale.mode]),
                )
                emit(result)
    except Exception as err:
        if "fairness_wall_s" not in result:  # the result line was not printed yet
            errors["time_skipping"] = f"{type(err).__name__}: {err}"
            emit(result)
        traceback.print_exc()
    return result


@dataclass
class Child:
    """The child process running the time-skipping phases."""

    proc: asyncio.subprocess.Process
    result: asyncio.Future[dict[str, Any]]
    relay: asyncio.Task[None]


async def spawn_time_skipping_part(scale: Scale) -> Child:
    """Start :func:`time_skipping_part` in a child process that relays its lines.

    A child process has its own interpreter lock, so the time-skipping phases use the
    second core instead of slowing down the real-time phases of this process.
    """
    args = [str(SCRIPT), "--part", "time-skipping"]
    if scale.mode == "quick":
        args.append("--quick")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=str(ROOT), stdout=asyncio.subprocess.PIPE
    )
    result: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def relay() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith("{") and not result.done():
                try:
                    result.set_result(json.loads(line))
                except ValueError:
                    print(f"  time-skipping | {line}", flush=True)
            else:
                print(f"  time-skipping | {line}", flush=True)
        code = await proc.wait()
        if not result.done():
            result.set_result(
                {"errors": {"time_skipping": f"child exited {code} without a result line"}}
            )

    return Child(proc, result, asyncio.create_task(relay()))


async def end_child(child: Child, kill: bool) -> None:
    """Wait for the child to exit (killing it first when asked)."""
    if kill and child.proc.returncode is None:
        child.proc.kill()
    await child.relay


def _defaults(mode: str) -> dict[str, Any]:
    return {
        "mode": mode,
        "idle_tasks_per_persona_hour": None,
        "urgent_p95_s": None,
        "urgent_max_s": None,
        "urgent_unprocessed": None,
        "shed_lost": None,
        "jain_fairness": None,
        "room_mention_p95_s": None,
        "room_cap1_jain": None,
        "room_cap1_waves_to_all": None,
        "live_personas": None,
        "urgent_during_shed_p99_s": None,
        "items_per_s_one_persona": None,
    }


async def run(scale: Scale, overlap: bool) -> dict[str, Any]:
    """Every phase; the figures and context numbers as one dict.

    The time-skipping phases (idle cost, fairness) run in a child process. With ``overlap``
    they run while the flood runs here (the flood mostly waits); the live-personas phase,
    which loads the CPU, always starts after they finished.
    """
    result = _defaults(scale.mode)
    errors: dict[str, str] = {}
    t0 = time.monotonic()
    child = await spawn_time_skipping_part(scale)
    failed = False
    merged = False

    async def child_result() -> None:
        nonlocal merged
        part = dict(await child.result)
        if not merged:
            merged = True
            errors.update(part.pop("errors", {}))
            result.update(part)

    try:
        if not overlap:
            await child_result()
        async with worker_process() as worker:
            with temp_store() as store:
                log("starting the dev server")
                async with dev_env() as env:
                    try:
                        personas = await worker.start(env.client, store)
                        await _phase(
                            "flood", result, errors, partial(flood_phase, personas, store, scale)
                        )
                        await _phase(
                            "shed_urgent",
                            result,
                            errors,
                            partial(urgent_during_shed_phase, personas, store, scale.flood_seconds),
                        )
                        await _phase(
                            "pacing",
                            result,
                            errors,
                            partial(pacing_phase, personas, store, scale.pacing_items),
                        )
                        if overlap:
                            log("waiting for the time-skipping phases to finish")
                            await child_result()
                        # The busy room is measured alone: its load is the room's burst, not
                        # the time-skipping phases running beside the others.
                        rounds, burst = ROOM_MENTIONS[scale.mode]
                        await _phase(
                            "room_mention",
                            result,
                            errors,
                            partial(mention_phase, env.client, personas, rounds, burst),
                        )
                        await _phase(
                            "live",
                            result,
                            errors,
                            partial(live_phase, env, personas, store, scale),
                        )
                        log("shutting down the worker and the dev server")
                    finally:
                        await worker.stop()
    except BaseException as err:
        failed = True
        errors["dev_server"] = f"{type(err).__name__}: {err}"
        traceback.print_exc()
        if not isinstance(err, Exception):
            raise
    finally:
        await end_child(child, kill=failed)
        await child_result()  # set by now: the child's line, or why there was none
    result["overlapped"] = overlap
    result["errors"] = errors
    result["wall_s"] = round(time.monotonic() - t0, 2)
    return result


def main() -> int:
    """Parse the arguments, run the benchmark and print its JSON line last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="run the time-skipping phases before the flood instead of beside it",
    )
    parser.add_argument(
        "--part", choices=["all", "time-skipping"], default="all", help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    if args.part == "time-skipping":  # the child prints its own result line
        result = asyncio.run(time_skipping_part(scale))
    else:
        result = asyncio.run(run(scale, overlap=not args.sequential))
        emit(result)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
