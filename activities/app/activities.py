"""The app activities: every side effect of a session, idempotent by session id.

Blocking work (the store, Docker, apt) runs in threads. Refusals are non-retryable
ApplicationErrors with one clear line. ``faults`` injects failures for tests: for a step,
``"fail"`` raises a non-retryable error after the step's side effect, ``"crash_once"``
raises a retryable one on the first attempt after the side effect (a worker dying mid-step),
``"stall"`` holds the first attempt after its side effect until the worker is stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.app import contracts as c
from activities.app.capacity import ensure_host
from activities.app.images import ImageBuilder, ImageError, check_packages
from activities.app.repository import AppRepository
from activities.app.resources import Reservation, ResourceManager
from activities.app.sandbox import ExecResult, SandboxError, Sandboxes, SandboxSpec, Usage
from activities.app.settings import AppSettings
from activities.store import Store, UnknownPersona
from personas.app.models import SessionRequest
from personas.app.policy import Amount
from personas.ids import session_workflow_id

T = TypeVar("T")
Fault = Literal["fail", "crash_once", "stall"]


def refuse(message: str) -> ApplicationError:
    """A non-retryable refusal with one clear line."""
    return ApplicationError(message, type="AppRefused", non_retryable=True)


class AppActivities:
    """Activities bound to the store, the resource manager, the image builder and Docker."""

    def __init__(
        self,
        store: Store,
        settings: AppSettings,
        *,
        sandboxes: Sandboxes | None = None,
        builder: ImageBuilder | None = None,
        faults: dict[str, Fault] | None = None,
    ) -> None:
        """Bind to ``store``; Docker and the image cache come from ``settings`` by default."""
        self.settings = settings
        self.repo = AppRepository(store)
        self.resources = ResourceManager(store.engine)
        self.sandboxes = sandboxes or Sandboxes(
            settings.data_root, egress_root=settings.egress_root
        )
        self.builder = builder or ImageBuilder(settings.cache_dir)
        self.faults = dict(faults or {})
        self._host_ready = False

    def _ensure_host(self) -> None:
        if not self._host_ready:
            ensure_host(self.resources, self.settings, self.sandboxes.client)
            self._host_ready = True

    async def _io(self, step: str, fn: Callable[[], T]) -> T:
        result = await asyncio.to_thread(fn)
        fault = self.faults.get(step)
        if fault == "fail":
            raise refuse(f"injected failure at step {step}")
        if fault == "crash_once" and activity.info().attempt == 1:
            raise RuntimeError(f"injected crash after the side effect of step {step}")
        if fault == "stall" and activity.info().attempt == 1:
            await activity.wait_for_worker_shutdown()
            raise RuntimeError(f"worker stopped during step {step}")
        return result

    @activity.defn(name=c.VALIDATE)
    async def validate(self, req: SessionRequest) -> c.Validated:
        """Check persona, authorisation, configuration, host fit, access and packages."""

        def check() -> c.Validated:
            self._ensure_host()
            try:
                stored = self.repo.get(req.persona_id)
            except UnknownPersona:
                raise refuse(f"unknown persona {req.persona_id}") from None
            if not self.repo.is_granted(req.persona_id, req.user_id):
                raise refuse(f"user {req.user_id} may not use persona {req.persona_id}")
            persona = stored.persona
            try:
                configuration = persona.configuration(req.environment)
            except ValueError as exc:
                raise refuse(str(exc)) from None
            r = persona.resource_requirements
            amount = Amount(cpu_millis=r.cpu_millis, memory_mb=r.memory_mb, storage_mb=r.storage_mb)
            capacity = self.resources.usage(self.settings.host_id).capacity
            over = amount.exceeded(capacity)
            if over:
                raise refuse(f"resource requirements beyond the host: {', '.join(over)}")
            try:
                self.sandboxes.check_access(persona.access_controls)
                check_packages(list(persona.required_applications))
            except (SandboxError, ImageError) as exc:
                raise refuse(str(exc)) from None
            self.repo.open_session(
                req.session_id, req.persona_id, stored.version, req.user_id, "validated"
            )
            return c.Validated(
                persona=persona,
                version=stored.version,
                entity_id=stored.entity_id,
                amount=amount,
                configuration=configuration,
                host_id=self.settings.host_id,
                usage_interval_s=self.settings.usage_interval_s,
                usage_history=self.settings.usage_history,
            )

        return await self._io("validate", check)

    @activity.defn(name=c.RESERVE)
    async def reserve(self, req: c.ReserveRequest) -> Reservation:
        """Reserve the session's resources atomically, or queue it."""
        return await self._io(
            "reserve",
            lambda: self.resources.reserve(
                session_id=req.session_id,
                host_id=req.host_id,
                persona_id=req.persona_id,
                user_id=req.user_id,
                priority=req.priority,
                amount=req.amount,
                now_ms=req.now_ms,
            ),
        )

    @activity.defn(name=c.PLAN_PREEMPTION)
    async def plan_preemption(self, req: c.ReserveRequest) -> list[str]:
        """Sessions to preempt so this one fits (marked as being preempted)."""
        return await asyncio.to_thread(
            self.resources.plan_preemption, req.session_id, req.host_id, req.priority, req.amount
        )

    @activity.defn(name=c.RELEASE)
    async def release(self, req: c.ReleaseRequest) -> list[str]:
        """Free the reservation (idempotent); returns the sessions waiting on the host."""
        return await asyncio.to_thread(self.resources.release, req.session_id, req.host_id)

    @activity.defn(name=c.IMAGE)
    async def image(self, req: c.ImageRequest) -> str:
        """The persona image (built once per set of applications)."""

        def build() -> str:
            try:
                return self.builder.persona(list(req.applications))
            except ImageError as exc:
                raise refuse(str(exc)) from None

        return await self._io("image", build)

    @activity.defn(name=c.EGRESS_START)
    async def egress_start(self, req: c.EgressRequest) -> str:
        """Serve the session's egress proxy socket (idempotent); returns the socket's path."""
        path = await self.sandboxes.egress.start(req.session_id, req.allow, req.bandwidth_mbps)
        return await self._io("egress", lambda: path)

    @activity.defn(name=c.EGRESS_STOP)
    async def egress_stop(self, req: c.SessionRef) -> bool:
        """Stop the session's egress proxy and remove its directory (idempotent)."""
        return await self.sandboxes.egress.stop(req.session_id)

    @activity.defn(name=c.CREATE)
    async def create(self, spec: SandboxSpec) -> str:
        """Create the session's container and volumes."""

        def create() -> str:
            try:
                return self.sandboxes.create(spec)
            except SandboxError as exc:
                raise refuse(str(exc)) from None

        return await self._io("create", create)

    @activity.defn(name=c.CONFIGURE)
    async def configure(self, req: c.ConfigureRequest) -> int:
        """Write the configuration files."""
        return await self._io(
            "configure", lambda: self.sandboxes.configure(req.session_id, req.configuration)
        )

    @activity.defn(name=c.START)
    async def start(self, req: c.SessionRef) -> None:
        """Start the container."""
        await self._io("start", lambda: self.sandboxes.start(req.session_id))

    @activity.defn(name=c.HEALTH)
    async def health(self, req: c.SessionRef) -> str:
        """Verify the session runs, as non-root."""

        def check() -> str:
            try:
                return self.sandboxes.health(req.session_id)
            except SandboxError as exc:
                raise refuse(str(exc)) from None

        return await self._io("health", check)

    @activity.defn(name=c.REMOVE)
    async def remove(self, req: c.SessionRef) -> list[str]:
        """Stop and remove the container and its volumes (idempotent)."""
        return await asyncio.to_thread(self.sandboxes.remove, req.session_id)

    @activity.defn(name=c.END)
    async def end(self, req: c.EndRequest) -> None:
        """Record how the session ended (first end wins)."""
        await asyncio.to_thread(self.repo.end_session, req.session_id, req.state, req.reason)

    @activity.defn(name=c.EXEC)
    async def exec(self, req: c.ExecRequest) -> c.RunResult:
        """Run a command in the session (its egress proxy served first) and sample usage."""
        await self.sandboxes.egress.ensure(req.session_id)

        def run() -> c.RunResult:
            try:
                result: ExecResult = self.sandboxes.exec(req.session_id, list(req.argv))
                usage: Usage = self._usage(req.session_id)
            except SandboxError as exc:
                raise refuse(str(exc)) from None
            return c.RunResult(result=result, usage=usage)

        return await asyncio.to_thread(run)

    @activity.defn(name=c.USAGE)
    async def usage(self, req: c.SessionRef) -> Usage:
        """A sample of the session's CPU, memory and egress (its proxy served first)."""
        await self.sandboxes.egress.ensure(req.session_id)
        return await asyncio.to_thread(self._usage, req.session_id)

    def _usage(self, session_id: str) -> Usage:
        usage = self.sandboxes.usage(session_id)
        stats = self.sandboxes.egress.stats.get(session_id)
        if stats is None:
            return usage
        return usage.model_copy(
            update={"egress_allowed": stats.allowed, "egress_refused": stats.refused}
        )

    @activity.defn(name=c.RECONCILE)
    async def reconcile(self) -> c.ReconcileReport:
        """Remove containers, volumes, egress proxy directories and reservations whose session
        workflow is not running."""
        await asyncio.to_thread(self._ensure_host)
        docker_ids = await asyncio.to_thread(self.sandboxes.managed_sessions)
        store_ids = await asyncio.to_thread(self.resources.live_sessions)
        proxy_ids = await asyncio.to_thread(self.sandboxes.egress.sessions)
        candidates = sorted(docker_ids | store_ids | proxy_ids)
        client = activity.client()
        orphaned: list[str] = []
        removed: list[str] = []
        for sid in candidates:
            if await _is_running(client, session_workflow_id(sid)):
                continue
            orphaned.append(sid)
            removed += await asyncio.to_thread(self.sandboxes.remove, sid)
            if await self.sandboxes.egress.stop(sid):
                removed.append(f"egress proxy {sid}")
            await asyncio.to_thread(self.resources.release, sid, self.settings.host_id)
            await asyncio.to_thread(
                self.repo.end_session, sid, "failed", "reconciled: no live session"
            )
        return c.ReconcileReport(checked=len(candidates), orphaned=orphaned, removed=removed)

    async def close(self) -> None:
        """Stop serving egress sockets (worker shutdown); the sessions' directories stay."""
        await self.sandboxes.egress.close()

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for a worker."""
        return [
            self.validate,
            self.reserve,
            self.plan_preemption,
            self.release,
            self.image,
            self.egress_start,
            self.egress_stop,
            self.create,
            self.configure,
            self.start,
            self.health,
            self.remove,
            self.end,
            self.exec,
            self.usage,
            self.reconcile,
        ]


async def _is_running(client: Any, workflow_id: str) -> bool:
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return bool(desc.status == WorkflowExecutionStatus.RUNNING)
