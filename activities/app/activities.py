"""The app activities: every side effect of a session, idempotent by session id.

Blocking work (the store, Docker, apt) runs in threads. Refusals are non-retryable
ApplicationErrors with one clear line. ``faults`` injects failures for tests: for a step,
``"fail"`` raises a non-retryable error after the step's side effect, ``"crash_once"``
raises a retryable one on the first attempt after the side effect (a worker dying mid-step),
``"stall"`` holds the first attempt after its side effect until the worker is stopped,
``"hang"`` stops heartbeating and hangs on the first attempt after its side effect (a worker
that died without a word: the heartbeat timeout retries it), ``"crash_4"`` crashes the first
four attempts (a few worker deaths in a row).

Long steps heartbeat every ``HEARTBEAT_EVERY_S`` while their blocking work runs, so the
workflow's short heartbeat timeout retries a dead worker's step in seconds. Every Docker
object carries this deployment's label (``activities.ownership``) and the reconciler and
every clean-up touch only those.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from temporalio import activity
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities import ownership
from activities.activity_set import ActivitySet
from activities.app import contracts as c
from activities.app import engine_events
from activities.app.capacity import ensure_host
from activities.app.images import ImageBuilder, ImageError, check_packages
from activities.app.repository import AppRepository
from activities.app.resources import Reservation, ResourceManager
from activities.app.sandbox import (
    HOST,
    MANAGED,
    SESSION,
    ExecResult,
    SandboxError,
    Sandboxes,
    SandboxGone,
    SandboxSpec,
    Usage,
)
from activities.app.settings import AppSettings
from activities.host import HostClaim, base_of, host_queue
from activities.store import Store, UnknownPersona
from activities.workflow_status import is_running
from personas import messages
from personas.app.models import SessionRequest
from personas.app.placement import choose_host, too_big_for
from personas.app.policy import Amount
from personas.app.views import MAX_REASON, GoneNotice
from personas.ids import session_workflow_id

T = TypeVar("T")
Fault = Literal["fail", "crash_once", "stall", "hang", "crash_4"]
HEARTBEAT_EVERY_S = 1.0
MAX_DEAD_HEADS = 64
"""Dead queue heads skipped in one reservation attempt (each costs one describe)."""


def refuse(message: str) -> ApplicationError:
    """A non-retryable refusal with one clear line."""
    return ApplicationError(message, type="AppRefused", non_retryable=True)


def gone(message: str) -> ApplicationError:
    """The session's container is gone or stopped: non-retryable, the session must end."""
    return ApplicationError(message, type=c.SANDBOX_GONE, non_retryable=True)


class AppActivities(ActivitySet):
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
        self.sandboxes.host_id = settings.host_id
        self._host_ready = False
        self._deployment: str | None = None
        self._follower: asyncio.Task[None] | None = None
        self.following = asyncio.Event()
        """Set once this worker follows the engine's events (for tests)."""
        if settings.deployment_id:
            self._bind(ownership.check_id(settings.deployment_id))

    def _bind(self, deployment: str) -> None:
        self._deployment = deployment
        self.sandboxes.deployment = deployment
        self.builder.labels = ownership.labels(deployment)

    def deployment(self) -> str:
        """This worker's deployment id: the setting, or derived from the worker's Temporal
        client and the store on first use (inside an activity)."""
        if self._deployment is None:
            self._bind(ownership.of_client("", activity.client(), self.repo.store.url))
        assert self._deployment is not None
        self._follow(self._deployment)
        return self._deployment

    def _follow(self, deployment: str) -> None:
        """Follow the engine's reports of this deployment's session containers ending (once
        per worker process, from its first activity), telling each session at once."""
        if self._follower is not None and not self._follower.done():
            return
        if self.faults.get("watch") == "fail":
            return
        try:
            engine_events.engine_socket()
        except engine_events.NoEvents as exc:
            activity.logger.warning("%s: sessions rely on their usage samples", exc)
            return
        client = activity.client()

        async def tell(labels: dict[str, str], why: str) -> None:
            sid = labels.get(SESSION, "")
            if not sid:
                return
            handle = client.get_workflow_handle(session_workflow_id(sid))
            with contextlib.suppress(RPCError):  # an ended session needs nothing
                await handle.signal(messages.SANDBOX_GONE, GoneNotice(why=why[:MAX_REASON]))

        owned = ownership.owned_filter(deployment, MANAGED, f"{HOST}={self.settings.host_id}")[
            "label"
        ]
        self._follower = asyncio.get_running_loop().create_task(
            engine_events.follow(owned, tell, self.following)
        )

    def _ensure_host(self) -> None:
        if not self._host_ready:
            ensure_host(self.resources, self.settings, self.sandboxes.client)
            self._host_ready = True

    async def _io(self, step: str, fn: Callable[[], T]) -> T:
        self.deployment()
        try:
            result = await _heartbeating(step, asyncio.ensure_future(asyncio.to_thread(fn)))
        except SandboxGone as exc:
            raise gone(str(exc)) from None
        fault = self.faults.get(step)
        attempt = activity.info().attempt
        if fault == "fail":
            raise refuse(f"injected failure at step {step}")
        if (fault == "crash_once" and attempt == 1) or (fault == "crash_4" and attempt <= 4):
            raise RuntimeError(f"injected crash after the side effect of step {step}")
        if fault == "stall" and attempt == 1:
            await activity.wait_for_worker_shutdown()
            raise RuntimeError(f"worker stopped during step {step}")
        if fault == "hang" and attempt == 1:
            await activity.wait_for_worker_shutdown()  # no heartbeat: as if the worker died
            raise RuntimeError(f"worker stopped during step {step}")
        return result

    @activity.defn(name=c.VALIDATE)
    async def validate(self, req: SessionRequest) -> c.Validated:
        """Check persona, authorisation, configuration, access and packages (the fit on a
        host is the placement's: ``place``)."""

        def check() -> c.Validated:
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
                usage_interval_s=self.settings.usage_interval_s,
                usage_history=self.settings.usage_history,
            )

        return await self._io("validate", check)

    @activity.defn(name=c.PLACE)
    async def place(self, req: c.PlaceRequest) -> HostClaim:
        """Choose the session's host (taken from the placement queue by any host worker):
        among the registered hosts whose pinned queue a worker polls, where the session fits
        now with the most headroom, else where it can queue (``personas.app.placement``).
        Refuses a session larger than every host."""
        self.deployment()
        await asyncio.to_thread(self._ensure_host)
        hosts = await asyncio.to_thread(self.resources.hosts, req.priority)
        base = base_of(activity.info().task_queue)
        client = activity.client()
        mine = self.settings.host_id
        live = [
            h
            for h in hosts
            if h.host_id == mine or await _polled(client, host_queue(base, h.host_id))
        ]

        def decide() -> HostClaim:
            chosen = choose_host(req.amount, live, req.session_id, req.preempt)
            if chosen is None:
                over = too_big_for(req.amount, live)
                raise refuse(f"resource requirements beyond the host: {', '.join(over)}")
            return HostClaim(
                host_id=chosen,
                task_queue=host_queue(base, chosen),
                loss_timeout_s=self.settings.host_loss_timeout_s,
            )

        return await self._io("place", decide)

    @activity.defn(name=c.HOSTS)
    async def hosts(self) -> list[str]:
        """The ids of every registered host (each reconciled on its own pinned queue)."""
        loads = await asyncio.to_thread(self.resources.hosts)
        return [h.host_id for h in loads][: c.MAX_REPORTED]

    @activity.defn(name=c.RESERVE)
    async def reserve(self, req: c.ReserveRequest) -> Reservation:
        """Reserve the session's resources atomically, or queue it.

        A queue head whose workflow is no longer running (terminated, timed out) is skipped
        at once: its entry is removed and the attempt repeated; a new head that is not this
        session is woken, so capacity never waits behind the dead.
        """

        def attempt() -> Reservation:
            return self.resources.reserve(**dict(req), deployment=deployment)  # its fields

        deployment = self.deployment()
        got = await self._io("reserve", attempt)
        client = activity.client()
        for _ in range(MAX_DEAD_HEADS):
            if got.status != "queued":
                return got
            head = await asyncio.to_thread(self.resources.head, req.host_id)
            if head is None or head == req.session_id:
                return got
            if await is_running(client, session_workflow_id(head)):
                return got
            activity.logger.info("skipping dead queue head %s", head)
            await asyncio.to_thread(self.resources.leave_queue, head)
            await asyncio.to_thread(self.repo.end_session, head, "failed", "no live session")
            got = await asyncio.to_thread(attempt)
            new_head = await asyncio.to_thread(self.resources.head, req.host_id)
            if new_head is not None and new_head != req.session_id:
                await _wake(client, [new_head])
        return got

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

    @activity.defn(name=c.RECORD_STATE)
    async def record_state(self, req: c.StateRequest) -> None:
        """Make the stored session record follow the workflow's state (until its end)."""
        await asyncio.to_thread(self.repo.set_state, req.session_id, req.state)

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
        path = await self.sandboxes.egress.start(
            req.session_id, req.allow, req.bandwidth_mbps, deployment=self.deployment()
        )
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
        self.deployment()
        return await asyncio.to_thread(self.sandboxes.remove, req.session_id)

    @activity.defn(name=c.END)
    async def end(self, req: c.EndRequest) -> None:
        """Record how the session ended (first end wins)."""
        await asyncio.to_thread(self.repo.end_session, req.session_id, req.state, req.reason)

    @activity.defn(name=c.EXEC)
    async def exec(self, req: c.ExecRequest) -> c.RunResult:
        """Run a command in the session (its egress proxy served first) and sample usage."""
        self.deployment()
        await self.sandboxes.egress.ensure(req.session_id)

        def run() -> c.RunResult:
            if req.persona_id and not self.repo.is_granted(req.persona_id, req.user_id):
                raise refuse(f"user {req.user_id} may no longer use persona {req.persona_id}")
            try:
                result: ExecResult = self.sandboxes.exec(req.session_id, list(req.argv))
                usage: Usage = self._usage(req.session_id)
            except SandboxGone as exc:
                raise gone(str(exc)) from None
            except SandboxError as exc:
                raise refuse(str(exc)) from None
            return c.RunResult(result=result, usage=usage)

        return await asyncio.to_thread(run)

    @activity.defn(name=c.USAGE)
    async def usage(self, req: c.SessionRef) -> Usage:
        """A sample of the session's CPU, memory and egress (its proxy served first); a
        container that is gone or stopped is a non-retryable ``SandboxGone``."""
        self.deployment()
        await self.sandboxes.egress.ensure(req.session_id)
        try:
            return await asyncio.to_thread(self._usage, req.session_id)
        except SandboxGone as exc:
            raise gone(str(exc)) from None

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
        """Remove this deployment's containers, volumes, egress proxy directories and
        reservations on this host whose session workflow is not running, and wake the
        sessions waiting for the capacity freed. Another deployment's objects, and another
        host's, are never looked at (run on each host's pinned queue)."""
        deployment = self.deployment()
        host_id = self.settings.host_id
        await asyncio.to_thread(self._ensure_host)
        docker_ids = await asyncio.to_thread(self.sandboxes.managed_sessions)
        store_ids = await asyncio.to_thread(self.resources.live_sessions, deployment, host_id)
        proxy_ids = await asyncio.to_thread(self.sandboxes.egress.sessions, deployment)
        candidates = sorted(docker_ids | store_ids | proxy_ids)
        client = activity.client()
        orphaned: list[str] = []
        removed: list[str] = []
        waiting: list[str] = []
        for sid in candidates:
            if await is_running(client, session_workflow_id(sid)):
                continue
            orphaned.append(sid)
            removed += await asyncio.to_thread(self.sandboxes.remove, sid)
            if await self.sandboxes.egress.stop(sid):
                removed.append(f"egress proxy {sid}")
            waiting = await asyncio.to_thread(self.resources.release, sid, host_id)
            await asyncio.to_thread(
                self.repo.end_session, sid, "failed", "reconciled: no live session"
            )
        if orphaned:
            await _wake(client, [w for w in waiting if w not in orphaned])
        return c.ReconcileReport(
            checked=len(candidates),
            host_id=host_id,
            orphaned=orphaned[: c.MAX_REPORTED],
            removed=removed[: c.MAX_REPORTED],
        )

    async def close(self) -> None:
        """Stop serving egress sockets and following engine events (worker shutdown); the
        sessions' directories stay."""
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None
        await self.sandboxes.egress.close()


async def _heartbeating(step: str, work: asyncio.Future[T]) -> T:
    """Await ``work``, heartbeating every HEARTBEAT_EVERY_S until it is done."""
    while True:
        done, _ = await asyncio.wait({work}, timeout=HEARTBEAT_EVERY_S)
        if done:
            return work.result()
        activity.heartbeat(step)


async def _wake(client: Any, sessions: list[str]) -> None:
    """Signal WAKE to waiting sessions (one that is gone is skipped)."""
    for sid in sessions:
        try:
            await client.get_workflow_handle(session_workflow_id(sid)).signal(messages.WAKE)
        except RPCError:
            activity.logger.info("session %s to wake is gone", sid)


#: A pinned queue polled within this long has a live host worker (a worker re-polls well
#: within it: the server holds a poll for at most about a minute).
POLLED_WITHIN_S = 75.0


async def _polled(client: Any, task_queue: str) -> bool:
    """True when a worker polled ``task_queue`` for activities within POLLED_WITHIN_S."""
    found = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        )
    )
    now = time.time()
    return any(
        p.HasField("last_access_time") and now - p.last_access_time.ToSeconds() < POLLED_WITHIN_S
        for p in found.pollers
    )
