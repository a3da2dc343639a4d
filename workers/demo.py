"""``personas-demo``: the embedded default, end to end.

Starts the Temporal dev server (state kept in ``state_dir``) with its web UI, a worker, and a
scenario: three AI personas of one entity, a dependency chain (the reviewer waits for the
helper's analysis, the planner for both) and a room where the coordinator picks who answers.
Serves the REST API and its console in the same process, with a key of the demo's entity
valid while the demo runs. Prints what happened and where to look.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import httpx
from temporalio.client import Client

from activities.api_access.keys import ApiKeyStore
from activities.app.settings import AppSettings, get_app_settings
from activities.providers import provider_from_settings
from activities.store import Store, UnknownPersona
from api.main import EmbeddedServer, api_server, serving
from clients.api import PersonaClient
from personas.coordination import FloorPolicy
from personas.life import PersonaView
from personas.models import AIPersonaProfile
from runtime.servers import dev_server_command
from runtime.settings import Settings, get_settings
from runtime.temporal import connect
from workers.main import build_worker

CAST = {
    "Helper": "static analysis of python code",
    "Reviewer": "python code review",
    "Planner": "release planning",
}


#: Seconds the worker is given to shut down once the demo is told to stop.
WORKER_STOP_S = 15.0
#: Seconds the dev server is given to stop before it is killed.
SERVER_STOP_S = 10.0


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


@contextlib.contextmanager
def dev_server(settings: Settings) -> Iterator[None]:
    """Run the dev server for the duration, unless one already answers at the address."""
    if _listening(settings.temporal_address):
        print(f"using the Temporal server already at {settings.temporal_address}")
        yield
        return
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    port = int(settings.temporal_address.rsplit(":", 1)[1])
    command = dev_server_command(settings.state_dir / "temporal.db", port, settings.ui_port)
    log = (settings.state_dir / "temporal.log").open("ab")
    # Its own session: a SIGTERM to the demo's process group (timeout, supervisors,
    # terminals) reaches the demo, which stops its worker first and then this server.
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while not _listening(settings.temporal_address):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the dev server did not start; see {log.name}")
            time.sleep(0.2)
        print(f"started the Temporal dev server at {settings.temporal_address}")
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=SERVER_STOP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=SERVER_STOP_S)
        log.close()
        print("stopped the Temporal dev server", flush=True)


async def _client(settings: Settings) -> Client:
    deadline = time.monotonic() + 60
    while True:
        try:
            return await connect(settings)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def demo_app_settings() -> AppSettings:
    """The app settings, in development mode when no JWT keys are configured: the demo runs
    on one machine, its API on loopback by default (``personas-worker`` and ``personas-api``
    refuse to start without keys)."""
    apps = get_app_settings()
    if apps.jwt_keys or apps.dev_mode:
        return apps
    print("app tokens: the development key (no PERSONAS_APP_JWT_KEYS; the demo only)")
    return apps.model_copy(update={"dev_mode": True})


def reserve_api_port(settings: Settings) -> socket.socket | None:
    """The API's listening socket, bound before the dev server starts (which opens ports of
    its own, so the API's could be taken meanwhile); None when the port is in use."""
    sock = socket.socket()
    try:
        sock.bind((settings.api_host, settings.api_port))
    except OSError:
        sock.close()
        return None
    return sock


@contextlib.asynccontextmanager
async def serving_api(
    settings: Settings,
    client: Client,
    store: Store,
    app_settings: AppSettings,
    sock: socket.socket | None,
) -> AsyncIterator[str | None]:
    """The REST API and console in this process for the duration, and a key of the demo's
    entity (revoked at the end); yields the API's base URL, or None when its port is taken."""
    address = f"{settings.api_host}:{settings.api_port}"
    if sock is None:
        print(f"port {address} is in use: the REST API and console are not served")
        yield None
        return
    keys = ApiKeyStore(store.engine)
    issued = keys.create("acme", label="personas-demo")
    server = api_server(settings, client, store, server=EmbeddedServer, app_settings=app_settings)
    try:
        async with serving(server, sock) as started:
            if not started:
                print(f"the REST API did not start on {address}")
                yield None
                return
            base = f"http://{address}"
            print(f"REST API: {base}/docs; console: {base}/console")
            print(f"  sign in with acme's key (valid while the demo runs): {issued.secret}")
            yield base
    finally:
        keys.revoke(issued.key_id)


async def _through_api(base: str, store: Store) -> None:
    """List acme's personas through the REST API, with a key of its own (revoked after)."""
    keys = ApiKeyStore(store.engine)
    issued = keys.create("acme", label="personas-demo check")
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            answer = await http.get(
                "/v1/personas", headers={"Authorization": f"Bearer {issued.secret}"}
            )
        answer.raise_for_status()
        names = sorted(p["name"] for p in answer.json()["items"])
        print(f"the REST API lists acme's personas: {', '.join(names)}")
    finally:
        keys.revoke(issued.key_id)


async def _cast(personas: PersonaClient) -> dict[str, str]:
    personas.store.upsert_entity("acme", "Acme Corp", ["repo:web", "repo:api", "docs"])
    ids: dict[str, str] = {}
    for name, specialization in CAST.items():
        try:
            ids[name] = personas.store.find_persona_by_name("acme", name).persona_id
        except UnknownPersona:
            profile = AIPersonaProfile(
                entity_id="acme",
                name=name,
                base_persona="llama3",
                specialization=specialization,
                access_scope=("repo:web", "docs"),
                activation_triggers=("shift_start",),
                deactivation_triggers=("shift_end",),
            )
            ids[name] = (await personas.create_persona(profile, created_by="demo")).persona_id
        personas.store.set_life_status(ids[name], "live")
    return ids


async def _wait(personas: PersonaClient, pid: str, processed: int) -> PersonaView:
    deadline = time.monotonic() + 120
    while True:
        view = await personas.view(pid)
        if view.stats.processed >= processed or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.5)


async def scenario(
    settings: Settings, keep_running: bool, api_socket: socket.socket | None = None
) -> None:
    """Run the worker and the demo scenario; keep serving afterwards if asked."""
    store = Store(settings.resolved_database_url())
    store.migrate()
    client = await _client(settings)
    apps = demo_app_settings()
    worker = build_worker(
        client, store, provider_from_settings(settings), settings.task_queue, app_settings=apps
    )
    try:
        async with worker, serving_api(settings, client, store, apps, api_socket) as api:
            personas = PersonaClient(client, store, settings.task_queue)
            ids = await _cast(personas)
            before = {name: (await _processed(personas, pid)) for name, pid in ids.items()}
            run = f"{int(time.time())}"
            analysis = {"persona_id": ids["Helper"], "task_key": f"analysis-{run}"}
            review = {"persona_id": ids["Reviewer"], "task_key": f"review-{run}"}
            print("\nposting a dependency chain: Planner waits for Reviewer, who waits for Helper")
            await personas.post_to_persona(
                ids["Planner"],
                "@Planner plan the release of PR 42",
                "alice",
                waits_for=[analysis, review],
            )
            await personas.post_to_persona(
                ids["Reviewer"],
                "@Reviewer review PR 42",
                "alice",
                task_key=review["task_key"],
                waits_for=[analysis],
            )
            await personas.post_to_persona(
                ids["Helper"],
                "@Helper analyse PR 42 for python errors",
                "alice",
                task_key=analysis["task_key"],
            )
            room_id = "standup"
            await personas.create_room(
                room_id, list(ids.values()), FloorPolicy(responders=1, decision_deadline_s=30)
            )
            message = await personas.post_to_room(
                room_id, "Which python code review should go first?", "alice"
            )
            print(f"posted to room {room_id}: {message.item_id}")
            for name, pid in ids.items():
                await _wait(personas, pid, before[name] + (2 if name != "Planner" else 1))
            deadline = time.monotonic() + 60
            while not (
                posts := [
                    p for p in store.room_transcript(room_id) if p.message_id == message.item_id
                ]
            ):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            for post in posts:
                speaker = next(n for n, pid in ids.items() if pid == post.persona_id)
                said = store.get_content(post.content_ref).text
                print(f"\n{speaker} answered in {room_id}:\n  {said}")
            print()
            for name, pid in ids.items():
                view = await personas.view(pid)
                print(
                    f"  {name:<9} mood={view.mood.value:<11} energy={view.energy:.2f} "
                    f"processed={view.stats.processed} bids={view.stats.bids} "
                    f"floors={view.stats.floors_taken} shed={view.stats.shed}"
                )
            if api is not None:
                await _through_api(api, store)
            ui = f"http://127.0.0.1:{settings.ui_port}/namespaces/{settings.temporal_namespace}"
            print(f"\nweb UI: {ui}/workflows?query=PersonaKind%3D%22ai%22")
            if keep_running:
                print("worker running; Ctrl-C to stop")
                await asyncio.Event().wait()
    finally:
        print("stopped the worker", flush=True)  # before the server: it needs the server


async def _processed(personas: PersonaClient, pid: str) -> int:
    try:
        return (await personas.view(pid)).stats.processed
    except Exception:
        return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Start the embedded default and run the demo scenario."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--once", action="store_true", help="exit after the scenario")
    args = parser.parse_args()
    settings = get_settings()
    signal.signal(signal.SIGTERM, _interrupt)  # stop the dev server on SIGTERM too
    api_socket = reserve_api_port(settings)
    with dev_server(settings), contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_until_terminated(settings, not args.once, api_socket))


async def _until_terminated(
    settings: Settings, keep_running: bool, api_socket: socket.socket | None
) -> None:
    """The scenario, cancelled by SIGTERM or SIGINT: the worker shuts down (within
    ``WORKER_STOP_S``) while the server still runs; the server is stopped after."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def stop() -> None:
        task.cancel()  # the worker shuts down while the server still runs ...
        loop.call_later(WORKER_STOP_S, task.cancel)  # ... and is cut short after the bound

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    try:
        await scenario(settings, keep_running, api_socket)
    except asyncio.CancelledError:
        print("terminated", flush=True)


if __name__ == "__main__":
    main()
