"""One warm, hardened sandbox per live AI persona, where its tools run (``docker exec``).

Built on the app-persona machinery (:mod:`activities.app.sandbox`: the same hardening, the
same ownership labels, the same images): non-root on a read-only root, no capabilities, no
new privileges, ``network_mode="none"``, pids/CPU/memory limits. Only the resources in the
persona's scope are mounted, at ``/res/<name>`` (a ``files`` directory) or
``/res/<name>.db`` (a ``sql`` file), read-only unless ``write`` is granted on a ``files``
resource (``sql`` is always read-only: its only tool is a read-only query). The mounts are
part of the container's identity (a label holds their digest): a scope that changed gets a
new container, so a revoked resource is never reachable from a warm one.

The container's command is a command loop (:mod:`activities.agent.executor`) spoken to over
its attached stdin and stdout, so a call costs a fork inside the sandbox instead of a
``docker exec`` (measured: some 15-40 ms against 100-230 ms on a loaded two-core machine).
Every call runs under ``timeout -s KILL`` and ``head -c``: a time limit and an output limit
inside the sandbox; the shell's ``times`` gives the call's CPU seconds. Containers
carry their own managed label, not the app sessions', so the app reconciler never sees them.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import docker.errors
from pydantic import BaseModel, ConfigDict

from activities import ownership
from activities.agent.executor import LOOP, Executor, ExecutorGone
from activities.app.images import PATH, ImageBuilder
from activities.app.sandbox import SandboxError, Sandboxes, SandboxGone, hardening
from personas.agent.resources import Level, ResourceType, ScopedResource
from personas.agent.tools import MAX_CALL_BYTES
from personas.app.models import ResourceRequirements

AGENT_MANAGED = "persona-agent.managed"
AGENT_PERSONA = "persona-agent.persona"
AGENT_MOUNTS = "persona-agent.mounts"
APPLICATIONS = ["sqlite3"]
LIMITS = ResourceRequirements(
    cpu_millis=500, memory_mb=96, storage_mb=1, pids=32, tmp_mb=8, home_mb=1
)
CALL_TIMEOUT_S = 5
OUTPUT_LIMIT = MAX_CALL_BYTES
LOOP_VERSION = "loop-1"
"""Part of a container's identity: a container started before the loop is replaced."""


class Run(BaseModel):
    """What one command in the sandbox did."""

    model_config = ConfigDict(frozen=True)

    exit_code: int
    stdout: bytes
    stderr: str
    cpu_ms: int
    elapsed_ms: float


def session_of(persona_id: str) -> str:
    """The sandbox's session id for a persona (a digest: persona ids are free text)."""
    return "agent-" + hashlib.sha256(persona_id.encode()).hexdigest()[:20]


def mount_point(held: ScopedResource) -> str:
    """Where a held resource appears inside the sandbox."""
    r = held.resource
    return f"/res/{r.name}.db" if r.type is ResourceType.SQL else f"/res/{r.name}"


def mounts(scope: list[ScopedResource]) -> dict[str, dict[str, str]]:
    """Docker bind mounts of exactly these resources."""
    found: dict[str, dict[str, str]] = {}
    for held in sorted(scope, key=lambda h: h.resource.name):
        write = held.resource.type is ResourceType.FILES and held.level is Level.WRITE
        found[held.resource.location] = {
            "bind": mount_point(held),
            "mode": "rw" if write else "ro",
        }
    return found


class AgentSandboxes(Sandboxes):
    """The warm sandboxes of AI personas on one Docker engine (one per persona)."""

    def __init__(
        self, builder: ImageBuilder, client: Any | None = None, call_timeout_s: int = CALL_TIMEOUT_S
    ) -> None:
        super().__init__(Path("/nonexistent"), client)
        self.builder = builder
        self.call_timeout_s = call_timeout_s
        self._image: str | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._executors: dict[str, Executor] = {}

    def _lock(self, session: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(session, threading.Lock())

    def image(self) -> str:
        """The tools' image (busybox and sqlite3), built once."""
        if self._image is None:
            self.builder.labels = ownership.labels(self._owner())
            self._image = self.builder.persona(APPLICATIONS)
        return self._image

    def warm(self, persona_id: str, scope: list[ScopedResource]) -> str:
        """The persona's running sandbox with exactly ``scope`` mounted (created when missing
        or when the scope changed); its session id."""
        session = session_of(persona_id)
        wanted = mounts(scope)
        identity = json.dumps([LOOP_VERSION, wanted], sort_keys=True)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        with self._lock(session):
            found = self._container(session)
            if found is not None and found.labels.get(AGENT_MOUNTS) == digest:
                if found.status == "running":
                    return session
                found.reload()
                if found.status == "running":
                    return session
            if found is not None:
                self._forget(session)
                self.remove(session)
            for location in wanted:
                if not Path(location).exists():
                    raise SandboxError(f"resource location {location[:80]} does not exist")
            labels = {
                AGENT_MANAGED: "1",
                AGENT_PERSONA: persona_id[:63],
                AGENT_MOUNTS: digest,
                **ownership.labels(self._owner()),
            }
            try:
                container = self.client.containers.create(
                    self.image(),
                    command=["sh", "-c", LOOP],
                    stdin_open=True,
                    log_config={"type": "none"},  # responses are not logs
                    name=f"persona-app-{session}",
                    labels=labels,
                    volumes=wanted,
                    environment={"PATH": PATH, "HOME": "/home/app"},
                    working_dir="/tmp",
                    detach=True,
                    **hardening(LIMITS),
                )
            except docker.errors.APIError as exc:
                raise SandboxError(f"agent sandbox not created: {exc.explanation or exc}") from exc
            container.start()
            return session

    def run(self, session: str, argv: list[str], output_limit: int = OUTPUT_LIMIT) -> Run:
        """Run ``argv`` through the sandbox's command loop, under its time and output limits,
        with the CPU time it took."""
        started = time.monotonic()
        with self._lock(session):
            executor = self._executors.get(session)
            if executor is None:
                container = self._require(session)
                try:
                    executor = Executor(container, 2.0 * self.call_timeout_s + 5)
                except (docker.errors.APIError, OSError) as exc:
                    raise SandboxGone(f"the agent sandbox {session} cannot be attached") from exc
                self._executors[session] = executor
            try:
                response = executor.call(self.call_timeout_s, output_limit, argv)
            except ExecutorGone as err:
                self._forget(session)
                raise SandboxGone(f"the agent sandbox {session} does not answer: {err}") from err
        return Run(
            exit_code=response.exit_code,
            stdout=response.stdout[:output_limit],
            stderr=response.stderr.decode(errors="replace")[-4000:],
            cpu_ms=response.cpu_ms,
            elapsed_ms=(time.monotonic() - started) * 1000,
        )

    def _forget(self, session: str) -> None:
        executor = self._executors.pop(session, None)
        if executor is not None:
            executor.close()

    def release(self, persona_id: str) -> bool:
        """Remove the persona's sandbox (idempotent); whether there was one."""
        session = session_of(persona_id)
        with self._lock(session):
            self._forget(session)
            return bool(self.remove(session))

    def live(self) -> dict[str, str]:
        """Session id -> persona of every agent sandbox of this deployment on this engine."""
        owned = ownership.owned_filter(self._owner(), AGENT_MANAGED)
        found: dict[str, str] = {}
        for c in self.client.containers.list(all=True, filters=owned, sparse=True):
            labels = c.attrs.get("Labels") or {}
            name = str(c.attrs["Names"][0]).lstrip("/").removeprefix("persona-app-")
            found[name] = labels.get(AGENT_PERSONA, "")
        return found
