"""The API against the real app, a real Temporal dev server with the project's workers and
the real store on SQLite and PostgreSQL: one world per backend and module.

The world holds entities ``acme`` and ``globex``, an administrator's key and one key of each
entity, and objects of acme of every kind (persona, room, negotiation, fleet, app persona and
session) for the refusal tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.app.settings import AppSettings
from activities.providers import OfflineDeterministicProvider
from activities.store import Store
from api.app import create_app
from api.main import EmbeddedServer, serving
from clients.app_api import app_persona
from personas.fleet.config import DEFAULT_CONFIG, FleetConfig
from personas.fleet.simulator import Scenario
from personas.ids import fleet_workflow_id, negotiation_workflow_id, session_workflow_id
from runtime.settings import Settings
from tests.integration.conftest import _drop_all_tables, postgres_url  # noqa: F401
from tests.workflow.app_support import app_settings, code_reviewer
from tests.workflow.conftest import end_lives
from tests.workflow.fleet_support import persona_for
from workers.main import build_worker


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free loopback port; its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = EmbeddedServer(uvicorn.Config(app, log_level="warning"))
    try:
        async with serving(server, sock) as started:
            assert started, "uvicorn did not start"
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


GOOD = FleetConfig(cpu_share=1.0, cache="lru", balancer="hash", replicas=4)


@dataclass
class World:
    """The app's HTTP client, the keys and acme's objects."""

    http: httpx.AsyncClient
    """The app in process (httpx's ASGI transport: a response arrives whole)."""
    live: httpx.AsyncClient
    """The same app served by uvicorn on loopback: streams arrive event by event."""
    app: FastAPI
    store: Store
    settings: AppSettings
    admin: str
    acme: str
    globex: str
    persona_id: str = ""
    room_id: str = ""
    negotiation_id: str = ""
    fleet_id: str = ""
    session_id: str = ""
    app_persona_id: str = ""
    key_id: str = ""
    started: list[str] = field(default_factory=list)

    def auth(self, secret: str) -> dict[str, str]:
        """The header of a key."""
        return {"Authorization": f"Bearer {secret}"}


def _store_url(backend: str, tmp: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'api.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _drop_all_tables(url)
    return url


async def _objects(w: World, dev_env: WorkflowEnvironment, queue: str) -> None:
    """acme's persona, room, negotiation, fleet, app persona and session."""
    profile = {
        "entity_id": "acme",
        "name": "Ada",
        "base_persona": "llama3",
        "specialization": "python code review",
        "access_scope": ["repo:web"],
        "activation_triggers": ["shift_start"],
        "deactivation_triggers": ["shift_end"],
    }
    r = await w.http.post("/v1/personas", json=profile, headers=w.auth(w.acme))
    assert r.status_code == 201, r.text
    w.persona_id = r.json()["persona_id"]
    w.room_id = f"r-{uuid.uuid4().hex[:8]}"
    r = await w.http.post(
        "/v1/rooms",
        json={"room_id": w.room_id, "members": [w.persona_id]},
        headers=w.auth(w.acme),
    )
    assert r.status_code == 201, r.text
    w.negotiation_id = f"n-{uuid.uuid4().hex[:8]}"
    body = {
        "negotiation_id": w.negotiation_id,
        "entity_id": "acme",
        "name": "blog",
        "text": "a small blog",
        "config": {"provision": False},
    }
    r = await w.http.post("/v1/negotiations", json=body, headers=w.auth(w.acme))
    assert r.status_code == 202, r.text
    w.started.append(negotiation_workflow_id(w.negotiation_id))
    services = w.http._transport.app.state.services  # type: ignore[attr-defined]
    w.fleet_id = f"f{uuid.uuid4().hex[:8]}"
    await services.fleets.start(
        fleet_id=w.fleet_id,
        entity_id="acme",
        persona=persona_for(w.fleet_id, GOOD),
        current=DEFAULT_CONFIG.model_dump(),
        risk_tolerance=1.0,
        cadence_s=3600,
        scenario=Scenario(rate_rps=150),
    )
    w.started.append(fleet_workflow_id(w.fleet_id))
    w.app_persona_id = f"ap-{uuid.uuid4().hex[:6]}"
    persona = app_persona(**code_reviewer(w.app_persona_id))
    await asyncio.to_thread(services.apps.repo.save, persona, "acme", "test")
    # a user without a grant: the session is refused at validation (no sandbox is made)
    token = services.apps.broker.issue("mallory")
    r = await w.http.post(
        "/v1/app-sessions",
        json={"persona_id": w.app_persona_id, "token": token},
        headers=w.auth(w.acme),
    )
    assert r.status_code == 202, r.text
    w.session_id = r.json()["session_id"]
    w.started.append(session_workflow_id(w.session_id))
    r = await w.http.post("/v1/entities/acme/api-keys", json={}, headers=w.auth(w.acme))
    assert r.status_code == 201, r.text
    w.key_id = r.json()["key_id"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def world(
    request: pytest.FixtureRequest,
    dev_env: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[World]:
    """The app on one backend, with a worker on its own task queue."""
    tmp = tmp_path_factory.mktemp("api")
    store = Store(_store_url(request.param, tmp, request))
    store.migrate()
    store.upsert_entity("acme", "Acme", ["repo:web", "repo:api", "docs"])
    store.upsert_entity("globex", "Globex", ["repo:web"])
    queue = f"tq-api-{uuid.uuid4().hex[:8]}"
    settings = app_settings(tmp)
    worker = build_worker(dev_env.client, store, OfflineDeterministicProvider(), queue)
    app = create_app(Settings(), dev_env.client, store, task_queue=queue, app_settings=settings)
    keys = app.state.services.keys
    transport = httpx.ASGITransport(app=app)
    async with (
        worker,
        httpx.AsyncClient(transport=transport, base_url="http://api") as http,
        served(app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as live,
    ):
        w = World(
            http=http,
            live=live,
            app=app,
            store=store,
            settings=settings,
            admin=keys.create(None, admin=True).secret,
            acme=keys.create("acme").secret,
            globex=keys.create("globex").secret,
        )
        await _objects(w, dev_env, queue)
        try:
            yield w
        finally:
            for workflow_id in w.started:
                handle = dev_env.client.get_workflow_handle(workflow_id)
                with contextlib.suppress(RPCError):
                    await handle.terminate("test finished")
            await end_lives(dev_env.client, store)
    store.dispose()
