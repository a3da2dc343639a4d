"""Support for app session tests: a store, settings (each with its own deployment id), a
worker with optional faults, a broker client on its queue holding an administrator's secret,
and a leak check; teardown terminates sessions and removes containers."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError

from activities.app.activities import AppActivities, Fault
from activities.app.resources import ResourceManager
from activities.app.sandbox import MANAGED, SESSION, Sandboxes, SandboxSpec
from activities.app.settings import AppSettings
from activities.app.tables import AppQueueEntry, AppReservation
from activities.funding.admins import AdminStore, NotAuthorized
from activities.funding.db import Database
from activities.store import Store
from clients.app_api import AppClient
from personas.app.models import AccessControls, AppConfiguration, ResourceRequirements
from personas.ids import session_workflow_id
from workers import registry

CACHE = Path("/var/tmp/persona-app-cache")
KEY = "test-key-0123456789abcdef0123456789"
EGRESS_ROOT = AppSettings.model_fields["egress_root"].default


def app_settings(tmp_path: Path, **over: Any) -> AppSettings:
    """Settings for a test: its own host id and data root, a small host."""
    data = tmp_path / "data"
    (data / "docs").mkdir(parents=True, exist_ok=True)
    (data / "docs" / "readme.txt").write_text("hello from docs\n")
    (data / "scratch").mkdir(exist_ok=True)
    (data / "scratch").chmod(0o777)
    fields: dict[str, Any] = {
        "jwt_keys": [SecretStr(KEY)],
        "host_id": f"h-{uuid.uuid4().hex[:8]}",
        "host_cpu_millis": 4000,
        "host_memory_mb": 1024,
        "host_storage_mb": 4096,
        "cache_dir": CACHE,
        "data_root": data,
        "usage_interval_s": 900,
        "deployment_id": f"test-{uuid.uuid4().hex[:10]}",
    }
    fields.update(over)
    return AppSettings(**fields)


@dataclass
class Leaks:
    """What is left of some sessions: containers/volumes, live reservations, queue entries,
    egress proxy directories."""

    docker: set[str] = field(default_factory=set)
    reservations: set[str] = field(default_factory=set)
    queued: set[str] = field(default_factory=set)
    proxies: set[str] = field(default_factory=set)

    def total(self) -> int:
        """How many leftovers in all."""
        return len(self.docker) + len(self.reservations) + len(self.queued) + len(self.proxies)


def leaks(store: Store, sessions: set[str], egress_root: Path = EGRESS_ROOT) -> Leaks:
    """Containers, volumes, live reservations, queue entries and proxy dirs of ``sessions``."""
    client = docker.from_env()
    found = Leaks(proxies={s for s in sessions if (egress_root / s).exists()})
    # sparse: no inspection of each container, which another test may remove meanwhile
    for c in client.containers.list(all=True, filters={"label": MANAGED}, sparse=True):
        if (c.attrs.get("Labels") or {}).get(SESSION) in sessions:
            found.docker.add(str(c.attrs["Names"][0]).lstrip("/"))
    for v in client.volumes.list(filters={"label": MANAGED}):
        if (v.attrs.get("Labels") or {}).get(SESSION) in sessions:
            found.docker.add(v.name)
    rm = ResourceManager(store.url)
    try:
        with Session(rm.engine) as s:
            for r in s.scalars(select(AppReservation)):
                if r.session_id in sessions and r.state != "released":
                    found.reservations.add(r.session_id)
            for q in s.scalars(select(AppQueueEntry)):
                if q.session_id in sessions:
                    found.queued.add(q.session_id)
    finally:
        rm.dispose()
    return found


_ADMINS: dict[str, str] = {}


def admin_secret(store: Store) -> str:
    """An administrator's secret on ``store`` (the first bootstraps without credentials; later
    ones are created by it)."""
    admins, name = AdminStore(Database(store.engine)), f"admin-{uuid.uuid4().hex[:8]}"
    try:
        secret = admins.create(name, _ADMINS.get(store.url))
    except NotAuthorized:  # a fresh database at a URL seen before
        secret = admins.create(name, None)
    _ADMINS[store.url] = secret
    return secret


class Rig(AppClient):
    """A broker client that remembers the sessions it started, for checks and teardown, and
    manages personas with an administrator's secret unless given other credentials."""

    started: set[str]
    admin: str

    async def define(
        self, entity_id: str, created_by: str, credential: str | None = None, **fields: Any
    ) -> Any:
        """Define with ``credential`` (the rig's administrator by default)."""
        return await super().define(entity_id, created_by, credential or self.admin, **fields)

    async def grant(self, persona_id: str, user_id: str, credential: str | None = None) -> None:
        """Grant with ``credential`` (the rig's administrator by default)."""
        await super().grant(persona_id, user_id, credential or self.admin)

    async def view(
        self, session_id: str, token: str | None = None, credential: str | None = None
    ) -> Any:
        """Show a session (as the rig's administrator unless a token or credential is given)."""
        if token is None and credential is None:
            credential = self.admin
        return await super().view(session_id, token, credential)

    def token(self, user: str, ttl_s: int = 600) -> str:
        """A valid token for ``user``."""
        return self.broker.issue(user, ttl_s)

    async def granted(self, user: str, persona: dict[str, Any]) -> str:
        """Define ``persona`` (its fields) for ``acme``, grant it to ``user``; a valid token
        for ``user``."""
        await self.define("acme", "admin", **persona)
        await self.grant(persona["persona_id"], user)
        return self.token(user)

    async def code_reviewer_for(self, user: str) -> str:
        """Define ``acme``'s code reviewer, grant it to ``user``; a valid token for ``user``."""
        return await self.granted(user, code_reviewer())

    async def kill(self, session_id: str) -> None:
        """Terminate the session's workflow, as a lost worker and an operator would leave it:
        nothing it holds is given back."""
        await self.client.get_workflow_handle(session_workflow_id(session_id)).terminate()

    def new_session_id(self) -> str:
        """A fresh session id, remembered."""
        sid = super().new_session_id()
        self.started.add(sid)
        return sid


@contextlib.asynccontextmanager
async def app_rig(
    client: Client,
    store: Store,
    settings: AppSettings,
    faults: dict[str, Fault] | None = None,
    queue: str | None = None,
) -> AsyncIterator[Rig]:
    """A worker on a fresh queue (with ``faults``) and a broker client on it."""
    queue = queue or f"app-{uuid.uuid4().hex[:8]}"
    acts = AppActivities(store, settings, faults=faults)
    worker = registry.Workers(client, queue, registry.app_of(acts))
    rig = Rig(client, store, queue, settings)
    rig.started = set()
    rig.admin = admin_secret(store)
    try:
        async with worker:
            try:
                yield rig
            finally:
                await end_sessions(client, store, settings, rig.started)
    finally:
        await acts.close()  # a stopped worker serves no egress socket


async def end_sessions(
    client: Client, store: Store, settings: AppSettings, sessions: set[str]
) -> None:
    """Terminate the sessions' workflows and remove whatever they left (test teardown)."""
    sandboxes = Sandboxes(settings.data_root, egress_root=settings.egress_root)
    sandboxes.deployment = settings.deployment_id
    rm = ResourceManager(store.url)
    for sid in sessions:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(session_workflow_id(sid)).terminate("test over")
        sandboxes.remove(sid)
        await sandboxes.egress.stop(sid)
        rm.release(sid, settings.host_id)
    rm.dispose()


def code_reviewer(persona_id: str = "code-reviewer", **over: Any) -> dict[str, Any]:
    """Fields of a small app persona with jq installed and a docs data source."""
    fields: dict[str, Any] = {
        "persona_id": persona_id,
        "persona_name": "Code Reviewer",
        "required_applications": ["jq"],
        "application_configuration": {
            "default": {
                "files": {"/config/review/rules.json": '{"max_len": 100}'},
                "env": {"REVIEW_MODE": "strict"},
            }
        },
        "resource_requirements": {"cpu_millis": 500, "memory_mb": 64, "storage_mb": 16},
        "access_controls": {
            "data_sources": [{"name": "docs", "mode": "ro"}, {"name": "scratch", "mode": "rw"}]
        },
    }
    fields.update(over)
    return fields


def fetcher(port: int, persona_id: str = "fetcher") -> dict[str, Any]:
    """Fields of a persona allowed egress to 127.0.0.1:``port`` only (busybox wget and nc)."""
    return code_reviewer(
        persona_id,
        persona_name="Fetcher",
        required_applications=[],
        access_controls={"network_egress": True, "egress_allowlist": [f"127.0.0.1:{port}"]},
    )


def orphan_sandbox(
    settings: AppSettings,
    image: str,
    resources: ResourceRequirements | None = None,
    session_id: str | None = None,
    persona_id: str = "code-reviewer",
) -> str:
    """A persona's container and volumes of ``settings``' deployment that no session owns
    (as a dead worker leaves them); their session id."""
    sid = session_id or f"orphan-{uuid.uuid4().hex[:8]}"
    sandboxes = Sandboxes(settings.data_root)
    sandboxes.deployment = settings.deployment_id
    sandboxes.create(
        SandboxSpec(
            session_id=sid,
            persona_id=persona_id,
            image=image,
            resources=resources or ResourceRequirements(),
            access=AccessControls(),
            configuration=AppConfiguration(),
        )
    )
    return sid
