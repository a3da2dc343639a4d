"""Scale-out figures: host-pinned work across two host workers on this machine.

Two ``personas-worker --role host`` processes (host ids ``a`` and ``b``) and an in-process
life worker serve app sessions and fleet testbeds (real nginx). Figures, on the last line as
one JSON object:

- ``misrouted_host_activities`` (goal 0): host-bound activities, in every session's and
  fleet's history, that were scheduled on another queue than the pinned queue of their
  object's host, or started by a worker of another host (from the worker identities);
- ``host_loss_release_s``: from SIGKILL of host ``b``'s worker until every session placed on
  it has ended (``lost``, its reservation released), with usage sampled every
  ``USAGE_S`` s and a host loss timeout of ``LOSS_S`` s;
- ``left_after_host_return`` (goal 0): containers of those sessions still there once host
  ``b``'s worker is started again (its own reconciler removes them);
- ``sessions_per_host``, ``sessions``, ``fleets``.

Then live personas (``bench/scale_live.py``): ``live_personas``, ``start_per_s``,
``slow_workflow_tasks``, ``worker_rss_mb_per_1k``, ``wake_tasks_per_s``,
``urgent_p95_s_at_scale``, ``metrics_series`` and more, on SQLite and PostgreSQL
(``--store``; with both, the SQLite figures under their own names and every store's with
``_sqlite`` / ``_postgres`` appended).

``--quick``: 6 sessions, 1 fleet and 1,000 live personas; the full run 20 sessions, 2 fleets
and 10,000 live personas. ``--part hosts|live`` runs one part.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from activities.app.activities import AppActivities, _polled
from activities.app.resources import ResourceManager
from activities.app.sandbox import Sandboxes
from activities.app.settings import AppSettings
from activities.fleet.drivers import SimFleet
from activities.fleet.lab import learn_persona
from activities.funding.admins import AdminStore
from activities.funding.db import Database
from activities.queues import host_queue, is_pinned
from activities.store import Store
from bench._common import emit, log, temp_store, wait_for
from bench.provisioning import PERSONA
from bench.scale_live import live_scenario
from clients.app_api import AppClient
from personas.fleet.simulator import Scenario
from personas.ids import fleet_workflow_id, session_workflow_id
from runtime.servers import dev_server_env
from workers import registry
from workflows.fleet_adaptation import FleetAdaptation, FleetInput

USAGE_S = 2
LOSS_S = 4.0
HOSTS = ("a", "b")


async def misrouted(client: Client, workflow_id: str, base: str) -> tuple[int, set[str]]:
    """Host-bound activities of ``workflow_id`` off their host, and the hosts they ran on."""
    scheduled: dict[int, tuple[str, str]] = {}
    bad, hosts = 0, set()
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            scheduled[event.event_id] = (attrs.activity_type.name, attrs.task_queue.name)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            name, queue = scheduled[started.scheduled_event_id]
            pinned_queue = queue.startswith(f"{base}-host-")
            if is_pinned(name) != pinned_queue:
                bad += 1
            elif pinned_queue:
                host_id = queue.removeprefix(f"{base}-host-")
                hosts.add(host_id)
                bad += not started.identity.endswith(f"/host-{host_id}")
    return bad + max(0, len(hosts) - 1), hosts


def host_env(base: str, store: Store, settings: AppSettings, address: str) -> dict[str, str]:
    """The environment of a host worker process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONAS_")}
    env.update(
        PERSONAS_SETTINGS_FILE="/nonexistent/personas.env",
        PERSONAS_TEMPORAL_ADDRESS=address,
        PERSONAS_TASK_QUEUE=base,
        PERSONAS_DATABASE_URL=store.url,
        PERSONAS_DEPLOYMENT_ID=settings.deployment_id,
        PERSONAS_APP_JWT_KEYS=json.dumps([k.get_secret_value() for k in settings.jwt_keys]),
        PERSONAS_APP_HOST_CPU_MILLIS="64000",
        PERSONAS_APP_HOST_MEMORY_MB="16000",
        PERSONAS_APP_DATA_ROOT=str(settings.data_root),
        PERSONAS_HOST_LOSS_TIMEOUT_S=str(LOSS_S),
        PERSONAS_FLEET_DRIVER="testbed",
        PERSONAS_FLEET_TESTBED_MAX_RATE_RPS="100",
        PERSONAS_SDK_METRICS_PORT="0",
        PERSONAS_METRICS_PORT="0",
        OTEL_SDK_DISABLED="true",
    )
    return env


def start_host(host_id: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    """``personas-worker --role host --host-id host_id`` in its own process, logging to
    ``log_dir/host-<id>.log``."""
    argv = [sys.executable, "-m", "workers.main", "--role", "host", "--host-id", host_id]
    with (log_dir / f"host-{host_id}.log").open("ab") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


async def run(quick: bool) -> dict[str, object]:
    """Place sessions and fleets on two hosts, check their histories, lose one host."""
    n_sessions, n_fleets = (6, 1) if quick else (20, 2)
    base = f"scale-{uuid.uuid4().hex[:8]}"
    with TemporaryDirectory(prefix="bench-scale-") as tmp, temp_store() as store:
        log_dir = Path(os.environ.get("BENCH_LOG_DIR", tmp))
        settings = AppSettings(
            jwt_keys=[SecretStr(uuid.uuid4().hex * 2)],
            deployment_id=f"bench-{base}",
            data_root=Path(tmp),
            usage_interval_s=USAGE_S,
        )
        async with dev_server_env() as env:
            address = env.client.service_client.config.target_host
            environ = host_env(base, store, settings, address)
            procs: dict[str, subprocess.Popen[bytes]] = {}
            acts = AppActivities(store, settings)
            life = registry.app_of(acts) + registry.fleet(store, SimFleet())
            try:
                async with registry.Workers(
                    env.client,
                    base,
                    life,
                    ("life",),
                    identity="life",
                    activity_executor=ThreadPoolExecutor(max_workers=8),
                ):
                    for host_id in HOSTS:
                        procs[host_id] = start_host(host_id, environ, log_dir)
                    rm = ResourceManager(store.engine)

                    async def ready() -> bool:
                        registered = {h.host_id for h in await asyncio.to_thread(rm.hosts)}
                        polled = [await _polled(env.client, host_queue(base, h)) for h in HOSTS]
                        return registered >= set(HOSTS) and all(polled)

                    _, up = await wait_for(ready, bool, timeout_s=60)
                    if not up:
                        raise RuntimeError("the host workers did not come up")
                    log("two host workers polling their pinned queues")
                    result = await _measure(env.client, store, settings, base, procs, environ,
                                            log_dir, n_sessions, n_fleets)  # fmt: skip
            finally:
                for proc in procs.values():
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    proc.wait()
                await acts.close()
    return result


async def _measure(
    client: Client,
    store: Store,
    settings: AppSettings,
    base: str,
    procs: dict[str, subprocess.Popen[bytes]],
    procs_env: dict[str, str],
    log_dir: Path,
    n_sessions: int,
    n_fleets: int,
) -> dict[str, object]:
    app = AppClient(client, store, base, settings)
    admin = AdminStore(Database(store.engine)).create(f"bench-{base}", None)
    pid = str(PERSONA["persona_id"])
    await app.define("acme", "bench", admin, **PERSONA)
    await app.grant(pid, "bench-user", admin)
    token = app.broker.issue("bench-user")
    load = Scenario(pattern="steady", rate_rps=50, duration_s=1.0)
    fleets = [f"sc{uuid.uuid4().hex[:6]}" for _ in range(n_fleets)]
    t0 = time.perf_counter()
    personas = {
        fid: learn_persona(
            fid,
            load,
            None,
            intents=[],
            rounds=20,
            seed=1,
            author="bench",
            now=datetime(2026, 1, 1, tzinfo=UTC),
            sources=["simulator"],
        )
        for fid in fleets
    }
    runs = [  # each starts at its optimum: one observed round on its host's testbed
        client.execute_workflow(
            FleetAdaptation.run,
            FleetInput(
                fleet_id=fid,
                entity_id="acme",
                persona=persona,
                current=persona.optimum,
                cadence_s=1,
                scenario=load,
                max_rounds=1,
            ),
            id=fleet_workflow_id(fid),
            task_queue=base,
        )
        for fid, persona in personas.items()
    ]
    views = await asyncio.gather(*(app.request(pid, token) for _ in range(n_sessions)))
    log(f"{n_sessions} sessions running in {time.perf_counter() - t0:.1f} s")
    await asyncio.gather(*runs)
    log(f"{n_fleets} fleets adapted (one round) in {time.perf_counter() - t0:.1f} s")
    bad = 0
    placed: dict[str, list[str]] = {h: [] for h in HOSTS}
    for v in views:
        wrong, hosts = await misrouted(client, session_workflow_id(v.session_id), base)
        bad += wrong + (hosts != {v.host_id})
        placed[v.host_id or "?"].append(v.session_id)
    for fid in fleets:
        wrong, _ = await misrouted(client, fleet_workflow_id(fid), base)
        bad += wrong
    log(f"misrouted host activities: {bad}; sessions per host {Counter(v.host_id for v in views)}")
    lost = set(placed["b"])
    procs["b"].send_signal(signal.SIGKILL)
    killed = time.monotonic()

    async def ended() -> set[str]:
        done = set()
        for sid in lost:
            desc = await client.get_workflow_handle(session_workflow_id(sid)).describe()
            if desc.status != WorkflowExecutionStatus.RUNNING:
                done.add(sid)
        return done

    _, all_ended = await wait_for(ended, lambda d: d == lost, timeout_s=120, interval_s=0.1)
    release_s = time.monotonic() - killed
    log(f"host b killed: its {len(lost)} sessions ended in {release_s:.1f} s ({all_ended})")
    for sid in placed["a"]:
        await app.release(sid, token)
    sandboxes = Sandboxes(settings.data_root)
    sandboxes.deployment = settings.deployment_id
    procs["b"] = start_host("b", procs_env, log_dir)  # back: its reconciler removes the rest
    left, _ = await wait_for(
        lambda: asyncio.to_thread(lambda: sandboxes.managed_sessions() & lost),
        lambda found: not found,
        timeout_s=90,
        interval_s=0.5,
    )
    log(f"host b back: {len(left)} of its lost sessions' containers left")
    return {
        "left_after_host_return": len(left),
        "misrouted_host_activities": bad,
        "host_loss_release_s": round(release_s, 2) if all_ended and lost else None,
        "sessions_per_host": {h: len(s) for h, s in placed.items()},
        "sessions": n_sessions,
        "fleets": n_fleets,
        "usage_interval_s": USAGE_S,
        "host_loss_timeout_s": LOSS_S,
    }


async def live(quick: bool, stores: list[str]) -> dict[str, object]:
    """The live-persona scenario (``bench/scale_live.py``) on each store: the first store's
    figures under their own names, every store's with its name as a suffix."""
    n, n_urgent = (1_000, 50) if quick else (10_000, 200)
    result: dict[str, object] = {}
    with TemporaryDirectory(prefix="bench-live-") as tmp:
        log_dir = Path(os.environ.get("BENCH_LOG_DIR", tmp))
        for kind in stores:
            log(f"live personas: {n} on {kind}")
            figures = await live_scenario(kind, n, n_urgent, log_dir)
            for key, value in figures.items():
                result.setdefault(key, value)
                result[f"{key}_{kind}"] = value
    return result


def main() -> None:
    """Parse arguments, run, print the JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="6 sessions, 1 fleet and 1,000 live personas"
    )
    parser.add_argument(
        "--store", choices=("sqlite", "postgres", "both"), default="both",
        help="the store of the live-persona scenario (default: both, one after the other)",
    )  # fmt: skip
    parser.add_argument(
        "--part", choices=("hosts", "live", "all"), default="all",
        help="host pinning, live personas, or both (default)",
    )  # fmt: skip
    args = parser.parse_args()
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    result: dict[str, object] = {}
    if args.part in ("hosts", "all"):
        result |= asyncio.run(run(args.quick))
    if args.part in ("live", "all"):
        result |= asyncio.run(live(args.quick, stores))
    emit(result)


if __name__ == "__main__":
    main()
