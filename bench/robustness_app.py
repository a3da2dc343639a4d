"""The app-persona figures of ``bench/robustness.py``, on the real Docker engine and a Temporal
dev server (images cached after the first run).

    .venv/bin/python bench/robustness_app.py   # prints the figures, JSON last

- ``foreign_objects_removed`` / ``own_orphans_left``: two deployments (two stores, two
  deployment ids, two task queues) on one engine and one Temporal server, each with live
  sessions and orphans (sandboxes no session owns, and a terminated session); each runs its
  reconciler. How many of the other deployment's containers and volumes were removed (goal
  0), and how many of its own orphans' objects are left (goal 0).
- ``zombie_sessions`` / ``zombie_release_s``: running sessions whose container is removed
  from outside, or all of whose processes are killed from inside (``kill -9 -1``); how many
  still hold their reservation one sampling interval later (goal 0), and the longest time
  from the kill until the reservation was released (goal: at most one sampling interval,
  ``sampling_interval_s``). ``*_samples_only`` are the same with the engine's events not
  followed (the usage samples alone: the next sample finds the container gone, so the bound
  is one interval plus the release; a zombie there is one still holding after two).
- ``unauthorised_actions_allowed``: management and session actions tried without valid
  credentials of the owning entity or user (none, forged, another entity's key, another
  user's token, a development-key token, after a revocation); how many succeeded (goal 0).

Every object the benchmark creates carries its own deployment ids and is removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.service import RPCError

from activities.app.activities import AppActivities, Fault
from activities.app.resources import ResourceManager
from activities.app.sandbox import MANAGED, Sandboxes
from activities.app.settings import AppSettings
from activities.funding.admins import AdminStore
from activities.funding.db import Database
from activities.funding.keys import KeyStore
from activities.ownership import owned_filter
from activities.store import Store
from bench._common import emit, log, temp_store
from clients.api import PersonaError
from clients.app_api import AppClient
from personas.app.models import ResourceRequirements
from personas.ids import session_workflow_id
from runtime.servers import dev_server_env
from tests.workflow.app_support import orphan_sandbox
from workers import registry
from workflows.app_reconciler import AppReconciler

INTERVAL_S = 10
"""The sessions' usage sampling interval in this benchmark."""
PERSONA: dict[str, Any] = {
    "persona_id": "bench-robust",
    "persona_name": "Bench Robust",
    "required_applications": [],
    "resource_requirements": {"cpu_millis": 100, "memory_mb": 64, "storage_mb": 8},
}


class Bench(AppClient):
    """A broker client that remembers its sessions and manages with an admin secret."""

    started: set[str]
    admin: str

    def new_session_id(self) -> str:
        """A fresh session id, remembered."""
        sid = super().new_session_id()
        self.started.add(sid)
        return sid


def _settings(root: Path, **over: Any) -> AppSettings:
    (root / "data").mkdir(parents=True, exist_ok=True)
    fields: dict[str, Any] = {
        "jwt_keys": [SecretStr(uuid.uuid4().hex * 2)],
        "host_id": f"bench-{uuid.uuid4().hex[:8]}",
        "host_cpu_millis": 8000,
        "host_memory_mb": 4096,
        "cache_dir": Path("/var/tmp/persona-app-cache"),
        "data_root": root / "data",
        "usage_interval_s": INTERVAL_S,
        "deployment_id": f"bench-{uuid.uuid4().hex[:10]}",
    }
    fields.update(over)
    return AppSettings(**fields)


@contextlib.asynccontextmanager
async def _deployment(
    client: Client, store: Store, settings: AppSettings, faults: dict[str, Fault] | None = None
) -> AsyncIterator[Bench]:
    """A worker and a broker client of one deployment; everything it made removed after."""
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    acts = AppActivities(store, settings, faults=faults)
    app = Bench(client, store, queue, settings)
    app.started = set()
    app.admin = AdminStore(Database(store.engine)).create(f"a-{uuid.uuid4().hex[:6]}", None)
    try:
        async with registry.Workers(client, queue, registry.app_of(acts)):
            await app.define("acme", "bench", app.admin, **PERSONA)
            await app.grant(PERSONA["persona_id"], "alice", app.admin)
            try:
                yield app
            finally:
                await _clean(app, settings)
    finally:
        await acts.close()


async def _clean(app: Bench, settings: AppSettings) -> None:
    sandboxes = Sandboxes(settings.data_root, egress_root=settings.egress_root)
    sandboxes.deployment = settings.deployment_id
    rm = ResourceManager(app.store.engine)
    for sid in app.started:
        with contextlib.suppress(RPCError):
            await app.client.get_workflow_handle(session_workflow_id(sid)).terminate("bench")
        await asyncio.to_thread(sandboxes.remove, sid)
        await asyncio.to_thread(rm.release, sid, settings.host_id)


def _objects(deployment: str) -> set[str]:
    """Names of the containers and volumes of one deployment on the engine."""
    engine = docker.from_env()
    found = owned_filter(deployment, MANAGED)
    names = {
        str(c.attrs["Names"][0]).lstrip("/")
        for c in engine.containers.list(all=True, filters=found, sparse=True)
    }
    return names | {str(v.name) for v in engine.volumes.list(filters=found)}


def _orphan(settings: AppSettings, image: str) -> str:
    resources = ResourceRequirements(**PERSONA["resource_requirements"])
    return orphan_sandbox(settings, image, resources, persona_id=PERSONA["persona_id"])


def _of(names: set[str], sessions: set[str]) -> set[str]:
    return {n for n in names if any(f"persona-app-{s}" in n for s in sessions)}


async def ownership(client: Client, root: Path, live: int = 3) -> dict[str, int]:
    """``foreign_objects_removed`` and ``own_orphans_left`` of two deployments on one engine."""
    with temp_store() as store_a, temp_store() as store_b:
        settings = [_settings(root / "a"), _settings(root / "b")]
        async with (
            _deployment(client, store_a, settings[0]) as a,
            _deployment(client, store_b, settings[1]) as b,
        ):
            orphans: dict[str, set[str]] = {}
            for app, s in ((a, settings[0]), (b, settings[1])):
                token = app.broker.issue("alice")
                views = [await app.request(PERSONA["persona_id"], token) for _ in range(live + 1)]
                dead = views[-1].session_id
                await client.get_workflow_handle(session_workflow_id(dead)).terminate("bench")
                made = {await asyncio.to_thread(_orphan, s, views[0].image or "") for _ in range(2)}
                app.started |= made
                orphans[s.deployment_id] = made | {dead}
            foreign = left = 0
            for app, s, other in ((a, settings[0], settings[1]), (b, settings[1], settings[0])):
                before = await asyncio.to_thread(_objects, other.deployment_id)
                await client.execute_workflow(
                    AppReconciler.run, id=f"rec-{uuid.uuid4().hex[:8]}", task_queue=app.task_queue
                )
                after = await asyncio.to_thread(_objects, other.deployment_id)
                foreign += len(before - after)
                own = await asyncio.to_thread(_objects, s.deployment_id)
                left += len(_of(own, orphans[s.deployment_id]))
            log(f"ownership: {foreign} foreign objects removed, {left} own orphan objects left")
            return {"foreign_objects_removed": foreign, "own_orphans_left": left}


def _holds(store: Store, sid: str) -> bool:
    """True while the session holds a reservation (or a queue entry)."""
    return sid in ResourceManager(store.engine).live_sessions()


async def _release_times(
    client: Client, root: Path, faults: dict[str, Fault] | None
) -> list[float]:
    """Kill two sessions' containers (from outside, and from inside); the time until each
    released its reservation (``inf`` if not within two sampling intervals and 30 s)."""
    engine = docker.from_env()
    with temp_store() as store:
        settings = _settings(root / f"z-{uuid.uuid4().hex[:4]}")
        async with _deployment(client, store, settings, faults) as app:
            token = app.broker.issue("alice")
            ids = [(await app.request(PERSONA["persona_id"], token)).session_id for _ in range(2)]
            kills: list[Callable[[Any], Any]] = [
                lambda c: c.remove(force=True),
                lambda c: c.exec_run(["kill", "-9", "-1"], user="10001:10001"),
            ]
            began: dict[str, float] = {}
            for sid, kill in zip(ids, kills, strict=True):
                container = engine.containers.get(f"persona-app-{sid}")
                began[sid] = time.monotonic()
                await asyncio.to_thread(kill, container)
            released: dict[str, float] = {}
            deadline = time.monotonic() + 2 * INTERVAL_S + 30
            while len(released) < len(ids) and time.monotonic() < deadline:
                for sid in ids:
                    if sid not in released and not await asyncio.to_thread(_holds, store, sid):
                        released[sid] = time.monotonic() - began[sid]
                await asyncio.sleep(0.05)  # a measurement's resolution, not a wait for work
            return [released.get(s, float("inf")) for s in ids]


async def zombies(client: Client, root: Path) -> dict[str, float | int]:
    """``zombie_sessions`` (not released within one sampling interval) and
    ``zombie_release_s`` with the engine's events followed (the default), and the same
    from the usage samples alone (a remote engine), where one interval to the next sample
    plus the release itself is the bound."""
    events = await _release_times(client, root, None)
    samples = await _release_times(client, root, {"watch": "fail"})
    log(f"zombies: release {max(events):.2f} s (events), {max(samples):.2f} s (samples only)")
    return {
        "zombie_sessions": sum(t > INTERVAL_S for t in events),
        "zombie_release_s": round(max(events), 2),
        "zombie_sessions_samples_only": sum(t > 2 * INTERVAL_S for t in samples),
        "zombie_release_samples_only_s": round(max(samples), 2),
        "sampling_interval_s": INTERVAL_S,
    }


async def _allowed(attempt: Awaitable[Any]) -> int:
    try:
        await attempt
    except PersonaError:
        return 0
    return 1


async def authorisation(client: Client, root: Path) -> dict[str, int]:
    """``unauthorised_actions_allowed``: how many of the unauthorised attempts succeeded."""
    with temp_store() as store:
        settings = _settings(root / "auth")
        async with _deployment(client, store, settings) as app:
            store.upsert_entity("globex", "Globex")
            store.create_persona(
                kind="ai", persona_id="gx", entity_id="globex", name="gx", body={}, created_by="b"
            )
            foreign = KeyStore(Database(store.engine)).issue("gx").secret
            plain = AppClient(client, store, app.task_queue, settings)
            pid = PERSONA["persona_id"]
            alice, bob = app.broker.issue("alice"), app.broker.issue("bob")
            dev_token = AppClient(
                client, store, app.task_queue, AppSettings(_env_file=None, dev_mode=True)
            ).broker.issue("alice")
            sid = (await app.request(pid, alice)).session_id
            attempts: list[Awaitable[Any]] = [
                plain.define("acme", "x", None, **PERSONA),
                plain.define("acme", "x", foreign, **PERSONA),
                plain.define("globex", "x", foreign, **PERSONA),
                plain.define("acme", "x", "adm_forged", **PERSONA),
                plain.grant(pid, "mallory"),
                plain.grant(pid, "mallory", foreign),
                plain.revoke(pid, "alice"),
                plain.revoke(pid, "alice", foreign),
                plain.view(sid),
                plain.view(sid, token=bob),
                plain.view(sid, credential=foreign),
                plain.view(sid, token=dev_token),
                plain.run(sid, bob, ["true"]),
                plain.run(sid, dev_token, ["true"]),
                plain.run(sid, alice[:-4] + "AAAA", ["true"]),
                plain.usage(sid, bob),
                plain.release(sid, bob),
                plain.request(pid, bob),
            ]
            allowed = [await _allowed(a) for a in attempts]
            await plain.revoke(pid, "alice", app.admin)
            allowed.append(await _allowed(plain.run(sid, alice, ["true"])))
            total = sum(allowed)
            log(f"authorisation: {total} of {len(allowed)} unauthorised actions allowed")
            return {
                "unauthorised_actions_allowed": total,
                "unauthorised_actions_tried": len(allowed),
            }


async def measure(client: Client | None = None) -> dict[str, float | int]:
    """Every app-persona figure of the robustness benchmark, as one dict (a dev server is
    started when no ``client`` is given)."""
    if client is None:
        async with dev_server_env() as env:
            return await measure(env.client)
    with TemporaryDirectory(prefix="bench-robust-app-") as tmp:
        root = Path(tmp)
        figures: dict[str, float | int] = {}
        figures.update(await ownership(client, root))
        figures.update(await zombies(client, root))
        figures.update(await authorisation(client, root))
        return figures


async def foreign_objects_removed(client: Client) -> int:
    """Objects of another deployment removed by a reconciler (goal 0)."""
    with TemporaryDirectory() as tmp:
        return (await ownership(client, Path(tmp)))["foreign_objects_removed"]


async def own_orphans_left(client: Client) -> int:
    """Objects of a deployment's own orphans left after its reconciler ran (goal 0)."""
    with TemporaryDirectory() as tmp:
        return (await ownership(client, Path(tmp)))["own_orphans_left"]


async def zombie_sessions(client: Client) -> int:
    """Sessions still holding a reservation one sampling interval after their container died."""
    with TemporaryDirectory() as tmp:
        return int((await zombies(client, Path(tmp)))["zombie_sessions"])


async def zombie_release_s(client: Client) -> float:
    """Longest time from a container's death until its reservation was released."""
    with TemporaryDirectory() as tmp:
        return float((await zombies(client, Path(tmp)))["zombie_release_s"])


async def unauthorised_actions_allowed(client: Client) -> int:
    """Unauthorised management and session actions that succeeded (goal 0)."""
    with TemporaryDirectory() as tmp:
        return (await authorisation(client, Path(tmp)))["unauthorised_actions_allowed"]


def main() -> None:
    """Run every scenario and print the figures, the JSON line last."""
    emit(asyncio.run(measure()))


if __name__ == "__main__":
    main()
