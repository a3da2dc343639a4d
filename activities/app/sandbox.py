"""Sandboxes on the Docker engine: one container and its volumes per session.

The container runs as a non-root user on a read-only root file system with tmpfs scratch
(/tmp, /home/app, capped by ``tmp_mb`` and ``home_mb``), a session volume for /workspace
and one for /config; all capabilities dropped, no-new-privileges, pids/CPU/memory limits,
``network_mode="none"``, data sources bind-mounted read-only or read-write.
Every operation is idempotent by session id.

Storage quota: the user's writable storage is capped. /workspace is a size-capped tmpfs
volume of the local driver of ``storage_mb`` (writes beyond it fail with ENOSPC); /tmp and
/home/app are capped tmpfs mounts; /config is a plain volume written by the configure step
and read-only to the user (its configuration files are validated and bounded, see
``personas.app.models``). A tmpfs volume is mounted when the container starts, so the
workspace is fresh at each start, and tmpfs pages are charged to the container's memory
cgroup: what is written there also counts against ``memory_mb`` (so the caps must fit in
it, which ``ResourceRequirements`` checks at definition). Egress (see
``activities.app.egress``) never gives the container a network: its main process is a
socat forwarder on 127.0.0.1:3128 to the host proxy's Unix socket, mounted read-only at
/run/egress.
"""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path
from typing import Any

import docker
import docker.errors
from pydantic import BaseModel, ConfigDict

from activities import ownership
from activities.app import egress
from activities.app.images import APP_UID, PATH
from personas.app.models import AccessControls, AppConfiguration, ResourceRequirements

MANAGED = "persona-app.managed"
SESSION = "persona-app.session"
EGRESS = "persona-app.egress"
HOST = ownership.HOST
LISTENING = f" 0100007F:{egress.PROXY_PORT:04X} 00000000:0000 0A "


class SandboxError(Exception):
    """A sandbox operation failed; the message is one clear line."""


class SandboxGone(SandboxError):
    """The session's container no longer exists or no longer runs (removed from outside, or
    every process in it killed): the session cannot go on."""


class SandboxSpec(BaseModel):
    """What a session's container is made of."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    persona_id: str
    image: str
    resources: ResourceRequirements
    access: AccessControls
    configuration: AppConfiguration


class ExecResult(BaseModel):
    """The exit code and combined output of a command run in a session."""

    exit_code: int
    output: str


class Usage(BaseModel):
    """A sample of a session's CPU time and memory."""

    cpu_seconds: float
    memory_mb: float
    memory_limit_mb: float
    pids: int
    egress_allowed: int = 0
    egress_refused: int = 0


def container_name(session_id: str) -> str:
    """The container's name for a session."""
    return f"persona-app-{session_id}"


def volume_names(session_id: str) -> tuple[str, str]:
    """The session's workspace and configuration volumes."""
    return f"persona-app-{session_id}-work", f"persona-app-{session_id}-config"


def _tmpfs(size_mb: int, uid: int, mode: str) -> dict[str, str]:
    options = f"size={size_mb}m,uid={uid},gid={uid},mode={mode},nosuid,nodev"
    return {"type": "tmpfs", "device": "tmpfs", "o": options}


def hardening(r: ResourceRequirements) -> dict[str, Any]:
    """The container options every sandbox runs with: non-root, read-only root with capped
    tmpfs scratch, no capabilities, no new privileges, pids/CPU/memory limits, no network."""
    return {
        "user": f"{APP_UID}:{APP_UID}",
        "read_only": True,
        "tmpfs": {
            "/tmp": f"rw,nosuid,nodev,size={r.tmp_mb}m,mode=1777",
            "/home/app": f"rw,nosuid,nodev,size={r.home_mb}m,uid={APP_UID},gid={APP_UID}",
        },
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "pids_limit": r.pids,
        "nano_cpus": r.cpu_millis * 1_000_000,
        "mem_limit": f"{r.memory_mb}m",
        "memswap_limit": f"{r.memory_mb}m",
        "network_mode": "none",
        "init": True,
    }


class Sandboxes:
    """Creates, configures, runs and removes session containers on one Docker engine."""

    def __init__(
        self, data_root: Path, client: Any | None = None, egress_root: Path | None = None
    ) -> None:
        """Data sources are directories under ``data_root``; proxy sockets under
        ``egress_root`` (``activities.app.egress``)."""
        self.data_root = data_root
        self._client = client
        self.egress = egress.EgressProxies(egress_root or Path("/tmp/persona-app-egress"))
        self.deployment: str | None = None
        """The deployment owning what this creates and the only one whose objects it lists or
        removes (``activities.ownership``); set by the activities before first use."""
        self.host_id: str | None = None
        """The host whose objects these are (label ``persona.host``): what this creates carries
        it and :meth:`managed_sessions` lists only its objects (hosts may share an engine)."""

    def _labels(self) -> dict[str, str]:
        """Ownership labels of a new object: the deployment and, when set, the host."""
        return ownership.labels(self._owner(), self.host_id)

    def _owner(self) -> str:
        if self.deployment is None:
            raise SandboxError("no deployment id is set: sandboxes would have no owner")
        return self.deployment

    @property
    def client(self) -> Any:
        """The Docker client (created on first use)."""
        if self._client is None:
            self._client = docker.from_env()
        return self._client

    def check_access(self, access: AccessControls) -> None:
        """Refuse unknown data sources before anything is allocated."""
        for source in access.data_sources:
            if not (self.data_root / source.name).is_dir():
                raise SandboxError(f"data source {source.name} not found")

    def _container(self, session_id: str) -> Any | None:
        """The session's container when it exists and is this deployment's."""
        try:
            found = self.client.containers.get(container_name(session_id))
        except docker.errors.NotFound:
            return None
        return found if ownership.is_owned(found.labels, self._owner()) else None

    def create(self, spec: SandboxSpec) -> str:
        """Create (not start) the session's container and volumes; returns the container id."""
        self.check_access(spec.access)
        existing = self._container(spec.session_id)
        if existing is not None:
            return str(existing.id)
        labels = {
            MANAGED: "1",
            SESSION: spec.session_id,
            "persona-app.persona": spec.persona_id,
            **self._labels(),
        }
        if spec.access.network_egress:
            labels[EGRESS] = "1"
        work, config = volume_names(spec.session_id)
        r, c = spec.resources, spec.configuration
        self.client.volumes.create(
            name=work, labels=labels, driver="local",
            driver_opts=_tmpfs(r.storage_mb, APP_UID, "0755"),
        )  # fmt: skip
        self.client.volumes.create(
            name=config, labels=labels
        )  # written by us, read-only to the user
        volumes = {
            work: {"bind": "/workspace", "mode": "rw"},
            config: {"bind": "/config", "mode": "rw"},
        }
        for src in spec.access.data_sources:
            host = str((self.data_root / src.name).resolve())
            volumes[host] = {"bind": f"/data/{src.name}", "mode": src.mode}
        env = {
            **c.env,
            "PATH": ":".join([*c.paths, PATH]),
            "HOME": "/home/app",
            "PERSONA_ID": spec.persona_id,
            "SESSION_ID": spec.session_id,
        }
        command = ["sleep", "2147483647"]
        if spec.access.network_egress:
            run_dir = self.egress.mount_dir(spec.session_id)
            if not run_dir.is_dir():
                raise SandboxError(f"the egress proxy of session {spec.session_id} is not set up")
            volumes[str(run_dir)] = {"bind": egress.CONTAINER_DIR, "mode": "ro"}
            env.update(egress.proxy_env())
            command = egress.forwarder_command()
        try:
            container = self.client.containers.create(
                spec.image,
                command=command,
                name=container_name(spec.session_id),
                labels=labels,
                volumes=volumes,
                environment=env,
                detach=True,
                **hardening(r),
            )
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # a retry raced our own create
                found = self._container(spec.session_id)
                if found is not None:
                    return str(found.id)
            raise SandboxError(f"container not created: {exc.explanation or exc}") from exc
        return str(container.id)

    def configure(self, session_id: str, configuration: AppConfiguration) -> int:
        """Write the configuration files into /config (read-only to the user); idempotent."""
        container = self._require(session_id)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            dirs: set[str] = set()
            for path in sorted(configuration.files):
                rel = path.removeprefix("/config/")
                parts = rel.split("/")[:-1]
                for i in range(len(parts)):
                    d = "/".join(parts[: i + 1])
                    if d not in dirs:
                        dirs.add(d)
                        info = tarfile.TarInfo(d)
                        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
                        tar.addfile(info)
                data = configuration.files[path].encode()
                info = tarfile.TarInfo(rel)
                info.size, info.mode, info.mtime = len(data), 0o444, 0
                tar.addfile(info, io.BytesIO(data))
        if not container.put_archive("/config", buf.getvalue()):
            raise SandboxError(f"configuration of session {session_id} was not written")
        return len(configuration.files)

    def _require(self, session_id: str) -> Any:
        container = self._container(session_id)
        if container is None:
            raise SandboxGone(f"the container of session {session_id} is gone")
        return container

    def require_running(self, session_id: str) -> Any:
        """The session's container when it runs; SandboxGone when it is gone or stopped."""
        container = self._require(session_id)
        try:
            container.reload()
        except docker.errors.NotFound:
            raise SandboxGone(f"the container of session {session_id} is gone") from None
        if container.status != "running":
            code = container.attrs.get("State", {}).get("ExitCode")
            raise SandboxGone(
                f"the container of session {session_id} is {container.status} (exit code {code})"
            )
        return container

    def start(self, session_id: str) -> None:
        """Start the container (idempotent)."""
        container = self._require(session_id)
        container.reload()
        if container.status != "running":
            container.start()

    def health(self, session_id: str, timeout_s: float = 10.0) -> str:
        """Wait until the container runs and answers as non-root (and, with egress, until its
        forwarder listens on 127.0.0.1:3128); SandboxError otherwise."""
        container = self._require(session_id)
        deadline = time.monotonic() + timeout_s
        while True:
            container.reload()
            if container.status == "running":
                result = self.exec(session_id, ["id", "-u"])
                if result.exit_code != 0 or result.output.strip() in ("", "0"):
                    raise SandboxError(f"session {session_id} unhealthy: {result.output.strip()}")
                if container.labels.get(EGRESS) != "1":
                    return f"running as uid {result.output.strip()}"
                if LISTENING in self.exec(session_id, ["cat", "/proc/net/tcp"]).output:
                    return f"running as uid {result.output.strip()}, egress forwarder listening"
            if container.status in ("exited", "dead") or time.monotonic() > deadline:
                if container.status == "running":
                    raise SandboxError(f"session {session_id}: egress forwarder not listening")
                raise SandboxError(f"session {session_id} is {container.status}, not running")
            time.sleep(0.05)  # the engine reports "created" until the process has started

    def exec(self, session_id: str, argv: list[str]) -> ExecResult:
        """Run ``argv`` inside the session as the session's user."""
        container = self._require(session_id)
        if container.status != "running":
            container = self.require_running(session_id)
        try:
            code, out = container.exec_run(argv, user=f"{APP_UID}:{APP_UID}", workdir="/workspace")
        except docker.errors.NotFound:
            raise SandboxGone(f"the container of session {session_id} is gone") from None
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                raise SandboxGone(f"the container of session {session_id} is not running") from exc
            raise SandboxError(f"exec failed: {exc.explanation or exc}") from exc
        text = (out or b"").decode(errors="replace")
        return ExecResult(exit_code=int(code if code is not None else -1), output=text[-65536:])

    def usage(self, session_id: str) -> Usage:
        """One sample of CPU time, memory use and limit, and processes; SandboxGone when the
        container is gone or no longer runs."""
        container = self.require_running(session_id)
        stats = container.stats(stream=False, one_shot=True)
        mem = stats.get("memory_stats", {})
        cpu = stats.get("cpu_stats", {}).get("cpu_usage", {})
        return Usage(
            cpu_seconds=cpu.get("total_usage", 0) / 1e9,
            memory_mb=mem.get("usage", 0) / 2**20,
            memory_limit_mb=mem.get("limit", 0) / 2**20,
            pids=stats.get("pids_stats", {}).get("current", 0),
        )

    def remove(self, session_id: str) -> list[str]:
        """Remove the container and its volumes (idempotent); returns what was removed."""
        removed = []
        container = self._container(session_id)
        if container is not None:
            try:
                container.remove(force=True, v=True)
                removed.append(container_name(session_id))
            except docker.errors.NotFound:
                pass
        for name in volume_names(session_id):
            try:
                volume = self.client.volumes.get(name)
                if not ownership.is_owned(volume.attrs.get("Labels"), self._owner()):
                    continue  # another deployment's: never ours to remove
                volume.remove(force=True)
                removed.append(name)
            except docker.errors.NotFound:
                pass
        return removed

    def managed_sessions(self) -> set[str]:
        """Session ids that own a container or a volume of this deployment on this engine:
        when a host is set, those labelled with it or with no host (made before hosts were
        labelled), never another host's."""
        found = set()
        owned = ownership.owned_filter(self._owner(), MANAGED)

        def mine(labels: dict[str, str]) -> bool:
            return self.host_id is None or labels.get(HOST, self.host_id) == self.host_id

        for c in self.client.containers.list(all=True, filters=owned, sparse=True):
            labels = c.attrs.get("Labels") or {}  # sparse: no inspect race
            if mine(labels):
                found.add(labels.get(SESSION, ""))
        for v in self.client.volumes.list(filters=owned):
            labels = v.attrs.get("Labels") or {}
            if mine(labels):
                found.add(labels.get(SESSION, ""))
        found.discard("")
        return found
