"""Live personas at scale: N lives served by one real ``personas-worker`` process.

Called by ``bench/scale.py``. On the dev server, with the store on SQLite or PostgreSQL, one
``personas-worker --role all`` child process (the production entry, offline model, both
Prometheus endpoints on) serves N personas:

1. **start**: a message to each of N personas not yet running (one broadcast,
   ``PersonaClient.post_to_many``: signal-with-start each), then until every one has
   processed it (its outcome is in the store): ``start_per_s`` (N over the time the
   signal-with-starts took), ``all_processed_s``, ``worker_rss_mb_per_1k`` (the worker's RSS
   growth over the lives, per 1,000);
2. **wake-up**: a second message to all of them at once, until all have processed it and
   the worker's task count has stopped moving (the tasks after the work done too):
   ``wake_tasks_per_s`` (workflow tasks the worker completed over that time, from its SDK
   metrics), ``wake_s``;
3. **urgent**: with every life idle again, items of priority 0.95 to a spread of them, one at
   ``URGENT_RATE`` a second: ``urgent_p95_s_at_scale``, from the item's ``sent_at`` (client
   clock, before its content is stored) to its think being scheduled (server time, from the
   history; one machine, one clock).

Throughout, ``slow_workflow_tasks``: workflow tasks whose execution took over
``SLOW_TASK_S`` (the worker's ``workflow_task_execution_latency`` histogram), and from a
sample of histories the tasks over ``SLOW_TASK_S`` from start to completion and the timed out
ones. ``metrics_series``: the domain (``personas_*``) series the worker's endpoint exports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client

from activities.app.activities import _polled
from activities.store import Store
from bench._common import (
    ROOT,
    ai_profile,
    bounded_gather,
    log,
    percentile,
    postgres_store,
    rounded,
    temp_store,
    wait_for,
)
from bench.life_load import delivered_and_taken
from clients.api import PersonaClient
from personas.ids import persona_workflow_id
from runtime.servers import dev_server_env

SLOW_TASK_S = 5.0
URGENT_RATE = 20.0
"""Urgent items sent a second (each to another persona)."""
HISTORY_SAMPLE = 200
CREATE_CONCURRENCY = 8
QUIET_S = 2.0
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")
TASK_HISTOGRAMS = (
    "temporal_workflow_task_execution_latency",
    "temporal_workflow_task_replay_latency",
)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """The resident set size of process ``pid`` in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children_named(word: str) -> list[int]:
    """Child processes of this one whose command line contains ``word``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
            if ppid == os.getpid() and word.encode() in cmdline:
                found.append(int(stat.parent.name))
    return found


async def scrape(port: int) -> list[tuple[str, str, float]]:
    """Every sample of the Prometheus endpoint on ``port``: (name, labels, value)."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics", timeout=30)).text
    return [
        (m.group(1), m.group(2) or "", float(m.group(3)))
        for line in text.splitlines()
        if (m := SAMPLE.match(line))
    ]


def task_figures(samples: list[tuple[str, str, float]]) -> tuple[float, float]:
    """(workflow tasks executed, those over ``SLOW_TASK_S``, replayed or not) from the SDK
    histograms."""
    bound = f'le="{SLOW_TASK_S * 1000:g}"'
    count, slow = 0.0, 0.0
    for histogram in TASK_HISTOGRAMS:
        total = sum(v for n, _, v in samples if n == f"{histogram}_count")
        within = sum(v for n, lbl, v in samples if n == f"{histogram}_bucket" and bound in lbl)
        count += total if histogram == TASK_HISTOGRAMS[0] else 0
        slow += total - within
    return count, slow


@dataclass
class LiveWorker:
    """The worker child process and its endpoints."""

    proc: asyncio.subprocess.Process
    task_queue: str
    sdk_port: int
    domain_port: int


def worker_env(client: Client, task_queue: str, database_url: str) -> dict[str, str]:
    """The environment of the worker process (nothing of this one's ``PERSONAS_*``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONAS_")}
    env.update(
        PERSONAS_SETTINGS_FILE="/nonexistent/personas.env",
        PERSONAS_TEMPORAL_ADDRESS=client.service_client.config.target_host,
        PERSONAS_TASK_QUEUE=task_queue,
        PERSONAS_DATABASE_URL=database_url,
        PERSONAS_DEPLOYMENT_ID=f"bench-{task_queue}",
        PERSONAS_APP_DEV_MODE="true",
        PERSONAS_SDK_METRICS_PORT=str(free_port()),
        PERSONAS_METRICS_PORT=str(free_port()),
        OTEL_SDK_DISABLED="true",
    )
    return env


@contextlib.asynccontextmanager
async def live_worker(client: Client, store: Store, log_path: Path) -> AsyncIterator[LiveWorker]:
    """``personas-worker --role all`` in a child process, once it polls its queue; ended by
    SIGTERM (then SIGKILL after a minute)."""
    queue = f"live-{uuid.uuid4().hex[:8]}"
    env = worker_env(client, queue, store.url)
    with log_path.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "workers.main", "--role", "all",
            cwd=str(ROOT), env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    worker = LiveWorker(
        proc, queue, int(env["PERSONAS_SDK_METRICS_PORT"]), int(env["PERSONAS_METRICS_PORT"])
    )
    try:

        async def up() -> bool:
            if proc.returncode is not None:
                raise RuntimeError(f"the worker exited ({proc.returncode}); see {log_path}")
            try:
                await scrape(worker.sdk_port)
                await scrape(worker.domain_port)
            except httpx.HTTPError:
                return False
            return await _polled(client, queue)

        _, ready = await wait_for(up, bool, timeout_s=300, interval_s=0.5)
        if not ready:
            raise RuntimeError(f"the worker did not come up; see {log_path}")
        yield worker
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=60)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@contextlib.contextmanager
def store_of(kind: str) -> Iterator[Store]:
    """A fresh migrated store: SQLite in a temporary file, or a fresh PostgreSQL database."""
    if kind == "sqlite":
        with temp_store() as store:
            yield store
    else:
        with postgres_store() as store:
            yield store


async def create_personas(personas: PersonaClient, entity: str, n: int) -> list[str]:
    """N personas of ``entity`` stored through the client (validated, as a user would)."""

    def create(i: int) -> Any:
        profile = ai_profile(f"Live_{i:05d}", entity_id=entity)
        return lambda: personas.create_persona(profile, created_by="bench")

    records = await bounded_gather([create(i) for i in range(n)], CREATE_CONCURRENCY)
    return [r.persona_id for r in records]


async def processed(store: Store, ids: list[str], at_least: int, timeout_s: float) -> float:
    """Seconds until every persona has ``at_least`` outcomes (or the deadline: then raise)."""
    t0 = time.monotonic()

    async def behind() -> int:
        counts = await asyncio.to_thread(store.outcome_counts, ids)
        return sum(1 for pid in ids if counts.get(pid, 0) < at_least)

    left, done = await wait_for(behind, lambda n: n == 0, timeout_s=timeout_s, interval_s=1.0)
    if not done:
        raise RuntimeError(f"{left} of {len(ids)} personas had not processed after {timeout_s}s")
    return time.monotonic() - t0


async def quiet(worker: LiveWorker, timeout_s: float) -> tuple[float, float]:
    """(workflow tasks done, seconds waited) once the worker's count stops moving for
    ``QUIET_S`` (its backlog done), or at the deadline."""
    t0 = time.monotonic()
    last = -1.0
    while True:
        count, _ = task_figures(await scrape(worker.sdk_port))
        if count == last or time.monotonic() - t0 > timeout_s:
            return count, time.monotonic() - t0
        last = count
        await asyncio.sleep(QUIET_S)


async def history_figures(client: Client, ids: list[str]) -> dict[str, Any]:
    """From a sample of the personas' current histories: workflow tasks over ``SLOW_TASK_S``
    from start to completion, those timed out (start to close) and those that waited on the
    sticky queue past its timeout, the longest, and events per history."""
    slow, timed_out, sticky, longest, events = 0, 0, 0, 0.0, []
    for pid in random.Random(7).sample(ids, min(HISTORY_SAMPLE, len(ids))):
        started: dict[int, float] = {}
        n = 0
        async for e in client.get_workflow_handle(persona_workflow_id(pid)).fetch_history_events():
            n += 1
            at = e.event_time.ToDatetime(tzinfo=UTC).timestamp()
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                started[e.event_id] = at
            elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                took = at - started[e.workflow_task_completed_event_attributes.started_event_id]
                slow += took > SLOW_TASK_S
                longest = max(longest, took)
            elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                kind = e.workflow_task_timed_out_event_attributes.timeout_type
                if kind == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE:
                    timed_out += 1
                else:  # left on the sticky queue past its timeout, then given to any worker
                    sticky += 1
        events.append(n)
    return {
        "sampled_slow_workflow_tasks": slow,
        "sampled_workflow_task_timeouts": timed_out,
        "sampled_sticky_queue_timeouts": sticky,
        "sampled_longest_workflow_task_s": round(longest, 3),
        "sampled_histories": len(events),
        "history_events_per_persona": round(sum(events) / max(1, len(events)), 1),
    }


async def urgent_phase(personas: PersonaClient, ids: list[str], n: int) -> dict[str, Any]:
    """Urgent items, one each to ``n`` live personas at ``URGENT_RATE`` a second: the p95 from
    sent to the think being scheduled."""
    targets = random.Random(11).sample(ids, min(n, len(ids)))
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def send(i: int, pid: str) -> Any:
        await asyncio.sleep(max(0.0, t0 + i / URGENT_RATE - loop.time()))
        return await personas.post_to_persona(pid, "the build is broken", "pager", priority=0.95)

    sent = await asyncio.gather(*(send(i, pid) for i, pid in enumerate(targets)))
    store = personas.store

    async def answered() -> int:
        found = [
            await asyncio.to_thread(store.get_outcome, pid, item.item_id)
            for pid, item in zip(targets, sent, strict=True)
        ]
        return sum(o is None for o in found)

    await wait_for(answered, lambda x: x == 0, timeout_s=120, interval_s=0.5)
    latencies = []
    for pid, item in zip(targets, sent, strict=True):
        _, taken = await delivered_and_taken(personas.client, persona_workflow_id(pid))
        if item.item_id in taken:
            latencies.append((taken[item.item_id] - item.sent_at).total_seconds())
    return {
        "urgent_p95_s_at_scale": rounded(percentile(latencies, 95), 3),
        "urgent_max_s_at_scale": rounded(max(latencies, default=None), 3),
        "urgent_items": len(targets),
        "urgent_unprocessed": len(targets) - len(latencies),
    }


async def live_scenario(kind: str, n: int, n_urgent: int, log_dir: Path) -> dict[str, Any]:
    """The three phases for ``n`` personas on a ``kind`` store (see the module docstring)."""
    with store_of(kind) as store:
        entity = f"live-{uuid.uuid4().hex[:6]}"
        await asyncio.to_thread(store.upsert_entity, entity, "Live", ["repo:web"])
        async with dev_server_env() as env:
            servers = children_named("start-dev")
            async with live_worker(env.client, store, log_dir / f"worker-{kind}.log") as worker:
                return await _phases(env.client, store, worker, entity, n, n_urgent, servers)


async def _phases(
    client: Client,
    store: Store,
    worker: LiveWorker,
    entity: str,
    n: int,
    n_urgent: int,
    servers: list[int],
) -> dict[str, Any]:
    personas = PersonaClient(client, store, worker.task_queue)
    t = time.monotonic()
    ids = await create_personas(personas, entity, n)
    log(f"live: {n} personas stored in {time.monotonic() - t:.1f}s")
    rss0 = rss_mb(worker.proc.pid)
    t = time.monotonic()
    await personas.post_to_many(ids, "hello, please check in", "bob", priority=0.5)
    start_s = time.monotonic() - t
    log(f"live: {n} signal-with-starts in {start_s:.1f}s ({n / start_s:.0f}/s)")
    all_processed_s = start_s + await processed(store, ids, 1, timeout_s=60 + n / 5)
    rss1 = rss_mb(worker.proc.pid)
    log(f"live: all processed {all_processed_s:.1f}s after the first start; worker RSS "
        f"{rss0:.0f} -> {rss1:.0f} MB")  # fmt: skip
    before, _ = task_figures(await scrape(worker.sdk_port))
    t = time.monotonic()
    await personas.post_to_many(ids, "wake up, there is news", "bob", priority=0.5)
    wake_s = time.monotonic() - t
    wake_s += await processed(store, ids, 2, timeout_s=60 + n / 5)
    after, settling = await quiet(worker, timeout_s=60 + n / 10)
    wake_s += settling - QUIET_S
    log(f"live: wake-up of all in {wake_s:.1f}s, {after - before:.0f} workflow tasks")
    result: dict[str, Any] = {
        "live_personas": n,
        "start_per_s": round(n / start_s, 1),
        "start_s": round(start_s, 2),
        "all_processed_s": round(all_processed_s, 2),
        "worker_rss_mb": round(rss1, 1),
        "worker_rss_mb_per_1k": round((rss1 - rss0) * 1000 / n, 1),
        "server_rss_mb": round(sum(rss_mb(p) for p in servers), 1) if servers else None,
        "wake_s": round(wake_s, 2),
        "wake_tasks_per_s": round((after - before) / wake_s, 1),
    }
    result |= await urgent_phase(personas, ids, n_urgent)
    log(f"live: urgent p95 {result['urgent_p95_s_at_scale']}s over {result['urgent_items']}")
    sdk = await scrape(worker.sdk_port)
    tasks, slow = task_figures(sdk)
    cache = [v for name, _, v in sdk if name == "temporal_sticky_cache_size"]
    domain = {name for name, _, _ in await scrape(worker.domain_port)}
    series = sorted({re.sub(r"_(bucket|count|sum|total|created)$", "", s) for s in domain
                     if s.startswith("personas_")})  # fmt: skip
    result |= await history_figures(client, ids)
    result |= {
        "slow_workflow_tasks": int(slow),
        "workflow_tasks": int(tasks),
        "worker_cached_lives": int(sum(cache)) if cache else None,
        "metrics_series": len(series),
        "metrics_series_names": series,
    }
    log(f"live: {json.dumps(result, default=str)}")
    return result
