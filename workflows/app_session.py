"""An app session as a saga: validate, reserve, image, (egress proxy), create, configure,
start, verify health, then run until release, lease expiry (a durable timer) or preemption.

While it runs, the session samples CPU, memory and egress on a durable cadence (a workflow
timer every ``usage_interval_s`` from the settings, stretched so that one lease holds at most
``MAX_SAMPLES`` samples and the history stays bounded); the latest ``usage_history`` samples
are kept in the view (query ``view`` or ``usage_history``) and the last one shows in the
current details. A sample that fails is counted as missed; a sample that finds the container
gone or stopped ends the session in state ``lost`` at once, and so does the engine's own
report (signal ``sandbox_gone`` from the worker following the engine's events), so a dead
sandbox never keeps its reservation. A revoked grant ends the session in state ``revoked``
and refuses commands at once. The stored session record follows the state (queued, running,
releasing, then how it ended).

Steps heartbeat and have a short heartbeat timeout: a dead worker's step is retried in
seconds, and up to ``STEP_ATTEMPTS`` attempts mean a few worker deaths never fail a session.

Every step registers its compensation before it runs; on failure, cancellation, release,
preemption or expiry the compensations run in reverse (remove the container and volumes,
free the reservation, record the end). Compensations are idempotent activities retried
until they succeed. Signals take ``Any`` and are validated here, so a malformed one is
ignored instead of failing a task; updates refuse with ApplicationError in validators.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.app import contracts
    from activities.host import HostClaim
    from activities.queues import is_pinned
    from personas import messages
    from personas.app.models import SessionRequest
    from personas.app.views import (
        MAX_REASON,
        GoneNotice,
        PreemptNotice,
        ReleaseCommand,
        RevokeNotice,
        RunCommand,
        SessionView,
        UsageQuery,
        UsageSample,
    )
    from personas.ids import session_workflow_id
    from runtime import search_attributes as sa
    from workflows.common import failure_cause, host_gone, on_queue

STEP_TIMEOUT = timedelta(seconds=60)
IMAGE_TIMEOUT = timedelta(minutes=15)
STEP_HEARTBEAT = timedelta(seconds=5)
"""A step's activity heartbeats every second; five seconds without one is a dead worker."""
STEP_ATTEMPTS = 20
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_attempts=STEP_ATTEMPTS,
    maximum_interval=timedelta(seconds=5),
)
COMP_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)  # until it succeeds
QUEUE_RECHECK = timedelta(seconds=30)
SAMPLE_TIMEOUT = timedelta(seconds=15)
SAMPLE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2)
MAX_SAMPLES = 1000


def sampling_interval(interval_s: int, lease_s: int) -> timedelta:
    """The usage cadence: ``interval_s``, stretched so that a lease takes at most MAX_SAMPLES."""
    return timedelta(seconds=max(interval_s, math.ceil(lease_s / MAX_SAMPLES)))


class _Stop(Exception):
    """The session must end (released, preempted, expired) before it finished starting."""


@workflow.defn
class AppSession:
    """One session of an app persona. Its id is ``app-session-<session_id>``."""

    @workflow.init
    def __init__(self, req: SessionRequest) -> None:
        self.req = req
        self.view_ = SessionView(
            session_id=req.session_id,
            persona_id=req.persona_id,
            user_id=req.user_id,
            priority=req.priority,
            state="validating",
        )
        self.compensations: list[tuple[str, Any]] = []
        self.stop_reason: str | None = None
        self.stop_state = "released"
        self.woken = False
        self.host: HostClaim | None = None
        self.host_lost = False
        self.usage_interval_s = 60
        self.history_len = 60
        self.revoked = False

    # ------------------------------------------------------------------ main line
    @workflow.run
    async def run(self, req: SessionRequest) -> SessionView:
        """Provision, run until the end, then compensate in reverse; returns the final view."""
        self._set("validating")
        final_state, reason = "released", ""
        try:
            await self._provision()
            self._set("running")
            lease = timedelta(seconds=req.lease_s)
            self.view_.lease_expires_at = (workflow.now() + lease).isoformat()
            self._publish()
            await self._record("running")
            await self._run_until_stop(workflow.now() + lease)
            final_state, reason = self.stop_state, self.stop_reason or ""
        except _Stop:
            final_state, reason = self.stop_state, self.stop_reason or "stopped"
        except ActivityError as err:
            if not _cancelled(err):
                final_state, reason = "failed", failure_cause(err)
            else:  # the workflow was cancelled while an activity ran
                await self._compensate("failed", "cancelled")
                raise asyncio.CancelledError() from None
        except asyncio.CancelledError:
            await self._compensate("failed", "cancelled")
            raise
        await self._compensate(final_state, reason)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view_

    async def _record(self, state: str) -> None:
        """Make the stored session record follow the workflow's state."""
        await workflow.execute_activity(
            contracts.RECORD_STATE,
            contracts.StateRequest(session_id=self.req.session_id, state=state),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=COMP_RETRY,
            task_queue=on_queue(contracts.RECORD_STATE),
        )

    async def _run_until_stop(self, deadline: datetime) -> None:
        """Wait for release, preemption, revocation, lease expiry or the container's end,
        sampling usage on a durable cadence."""
        every = sampling_interval(self.usage_interval_s, self.req.lease_s)
        while self.stop_reason is None:
            left = deadline - workflow.now()
            if left <= timedelta(0):
                self.stop_reason = "lease expired"
                return
            try:
                await workflow.wait_condition(
                    lambda: self.stop_reason is not None, timeout=min(every, left)
                )
            except TimeoutError:
                if workflow.now() < deadline:
                    await self._sample()

    def _lost(self, why: str) -> None:
        if self.stop_reason is None:
            self.stop_state = "lost"
            self.stop_reason = f"sandbox lost: {why}"[:MAX_REASON]

    async def _usage(self, start_to_close: timedelta, retry: RetryPolicy) -> contracts.Usage:
        """The session's CPU time and memory, sampled on its host."""
        usage: contracts.Usage = await workflow.execute_activity(
            contracts.USAGE,
            contracts.SessionRef(session_id=self.req.session_id),
            result_type=contracts.Usage,
            start_to_close_timeout=start_to_close,
            retry_policy=retry,
            **self._route(contracts.USAGE),
        )
        return usage

    async def _sample(self) -> None:
        try:
            used = await self._usage(SAMPLE_TIMEOUT, SAMPLE_RETRY)
        except ActivityError as err:
            if _cancelled(err):
                raise
            if host_gone(err):
                self._host_lost(contracts.USAGE)
                return
            if _is_gone(err):
                self._lost(failure_cause(err))
                return
            self.view_.samples_missed += 1
            self._publish()
            return
        now, history = workflow.now(), self.view_.usage
        percent = None
        if history:
            elapsed = (now - datetime.fromisoformat(history[-1].at)).total_seconds()
            if elapsed > 0:
                percent = round(100 * (used.cpu_seconds - history[-1].cpu_seconds) / elapsed, 3)
        sample = UsageSample(at=now.isoformat(), cpu_percent=percent, **used.model_dump())
        self.view_.usage = [*history, sample][-self.history_len :]
        self.view_.samples_taken += 1
        self._publish()

    async def _provision(self) -> None:
        request = self.req
        self._push(contracts.END, None)  # the end is recorded whatever happens
        validated: contracts.Validated = await self._step(
            "validate", contracts.VALIDATE, request, contracts.Validated, STEP_TIMEOUT
        )
        self.usage_interval_s = validated.usage_interval_s
        self.history_len = validated.usage_history
        self.view_.persona_version = validated.version
        workflow.upsert_search_attributes([sa.ENTITY_ID.value_set(validated.entity_id)])
        self.host = await self._step(
            "place",
            contracts.PLACE,
            contracts.PlaceRequest(
                session_id=request.session_id,
                amount=validated.amount,
                priority=request.priority,
                preempt=request.preempt,
            ),
            HostClaim,
            STEP_TIMEOUT,
        )
        self.view_.host_id = self.host.host_id
        self._push(
            contracts.RELEASE,
            contracts.ReleaseRequest(session_id=request.session_id, host_id=self.host.host_id),
        )
        await self._reserve(validated)
        persona = validated.persona
        access = persona.access_controls
        apps = persona.required_applications
        if access.network_egress:
            apps = tuple(sorted({*apps, *contracts.EGRESS_PACKAGES}))
        image: str = await self._step(
            "image",
            contracts.IMAGE,
            contracts.ImageRequest(session_id=request.session_id, applications=apps),
            str,
            IMAGE_TIMEOUT,
        )
        self.view_.image = image
        if access.network_egress:
            self.view_.egress = True
            self._push(contracts.EGRESS_STOP, contracts.SessionRef(session_id=request.session_id))
            egress = contracts.EgressRequest(
                session_id=request.session_id,
                allow=access.egress_allowlist,
                bandwidth_mbps=persona.resource_requirements.bandwidth_mbps,
            )
            await self._step("egress", contracts.EGRESS_START, egress, str, STEP_TIMEOUT)
        self._push(contracts.REMOVE, contracts.SessionRef(session_id=request.session_id))
        spec = contracts.SandboxSpec(
            session_id=request.session_id,
            persona_id=request.persona_id,
            image=image,
            resources=persona.resource_requirements,
            access=persona.access_controls,
            configuration=validated.configuration,
        )
        self.view_.container_id = await self._step(
            "create", contracts.CREATE, spec, str, STEP_TIMEOUT
        )
        conf = contracts.ConfigureRequest(
            session_id=request.session_id, configuration=validated.configuration
        )
        await self._step("configure", contracts.CONFIGURE, conf, int, STEP_TIMEOUT)
        ref = contracts.SessionRef(session_id=request.session_id)
        await self._step("start", contracts.START, ref, type(None), STEP_TIMEOUT)
        await self._step("health", contracts.HEALTH, ref, str, STEP_TIMEOUT)

    async def _step(
        self, name: str, activity: str, arg: Any, result: type, limit: timedelta
    ) -> Any:
        self._check_stop()
        self._set(
            {
                "validate": "validating",
                "reserve": "reserving",
                "image": "building",
                "egress": "brokering egress",
                "create": "creating",
                "configure": "configuring",
                "start": "starting",
                "health": "checking",
            }.get(name, name)
        )
        try:
            out = await workflow.execute_activity(
                activity,
                arg,
                result_type=result,
                start_to_close_timeout=limit,
                heartbeat_timeout=STEP_HEARTBEAT,
                retry_policy=STEP_RETRY,
                **self._route(activity),
            )
        except ActivityError as err:
            if host_gone(err):
                self._host_lost(activity)
                raise _Stop(self.stop_reason) from None
            raise
        self.view_.steps.append(name)
        self._check_stop()
        return out

    def _route(self, activity: str) -> dict[str, Any]:
        """Where ``activity`` runs: a host-bound one on the pinned queue of the session's
        host, with the host's loss timeout as its schedule-to-start timeout; a placement one
        on the placement queue within the queue timeout (no host worker at all); any other
        on its role's queue."""
        if is_pinned(activity):
            if self.host is None:
                raise ApplicationError(f"{activity} before the session was placed")
            return {
                "task_queue": self.host.task_queue,
                "schedule_to_start_timeout": timedelta(seconds=self.host.loss_timeout_s),
            }
        if activity == contracts.PLACE:
            return {
                "task_queue": on_queue(activity),
                "schedule_to_start_timeout": timedelta(seconds=self.req.queue_timeout_s),
            }
        return {"task_queue": on_queue(activity)}

    def _host_lost(self, activity: str) -> None:
        """No worker of the session's host took ``activity`` within the loss timeout (or no
        host worker took the placement): the session ends ``lost``, and its host-bound
        clean-up is left to that host's reconciler."""
        self.host_lost = True
        if self.host is None:
            self.stop_state = "failed"
            reason = f"no host worker took the placement within {self.req.queue_timeout_s} s"
        else:
            self.stop_state = "lost"
            reason = (
                f"host {self.host.host_id} lost: no worker took {activity} within "
                f"{self.host.loss_timeout_s:g} s"
            )
        self.stop_reason = reason[:MAX_REASON]

    def _check_stop(self) -> None:
        if self.stop_reason is not None:
            raise _Stop(self.stop_reason)

    async def _reserve(self, validated: contracts.Validated) -> None:
        request = self.req
        ask = contracts.ReserveRequest(
            session_id=request.session_id,
            host_id=self.host.host_id if self.host else "",
            persona_id=request.persona_id,
            user_id=request.user_id,
            priority=request.priority,
            amount=validated.amount,
            now_ms=int(workflow.now().timestamp() * 1000),
        )
        deadline = workflow.now() + timedelta(seconds=request.queue_timeout_s)
        preempted: set[str] = set()
        while True:
            self.woken = False
            got: contracts.Reservation = await self._step(
                "reserve", contracts.RESERVE, ask, contracts.Reservation, STEP_TIMEOUT
            )
            if got.status == "reserved":
                self.view_.queue_position = None
                return
            if got.status != "queued":
                self.stop_state = "failed"
                self.stop_reason = got.detail or f"reservation {got.status}"
                raise _Stop(self.stop_reason)
            self.view_.steps.pop()
            self.view_.queue_position = got.position
            if self.view_.state != "queued":
                self._set("queued")
                await self._record("queued")
            if request.preempt:
                victims = await workflow.execute_activity(
                    contracts.PLAN_PREEMPTION,
                    ask,
                    result_type=list[str],
                    start_to_close_timeout=STEP_TIMEOUT,
                    retry_policy=STEP_RETRY,
                    task_queue=on_queue(contracts.PLAN_PREEMPTION),
                )
                for victim in victims:
                    if victim not in preempted:
                        preempted.add(victim)
                        await self._notify(victim, messages.PREEMPT, PreemptNotice(
                            by_session=request.session_id, priority=request.priority
                        ))  # fmt: skip
            left = (deadline - workflow.now()).total_seconds()
            if left <= 0:
                self.stop_state, self.stop_reason = "failed", "no capacity before queue timeout"
                raise _Stop(self.stop_reason)
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self.woken or self.stop_reason is not None,
                    timeout=min(QUEUE_RECHECK, timedelta(seconds=left)),
                )

    async def _notify(self, session_id: str, signal: str, arg: Any) -> None:
        handle = workflow.get_external_workflow_handle(session_workflow_id(session_id))
        try:
            await handle.signal(signal, arg)
        except FailureError:
            workflow.logger.info("session %s is gone; the reconciler frees it", session_id)

    def _push(self, activity: str, arg: Any) -> None:
        self.compensations.append((activity, arg))

    async def _compensate(self, state: str, reason: str) -> None:
        reason = reason[:MAX_REASON]
        self._set("releasing", reason)
        await self._record("releasing")
        while self.compensations:
            activity, arg = self.compensations.pop()
            if activity == contracts.END:
                arg = contracts.EndRequest(
                    session_id=self.req.session_id, state=state, reason=reason
                )
            if is_pinned(activity) and self.host_lost:
                self.view_.left_on_host.append(activity)  # the host's reconciler's, later
                continue
            try:
                out = await workflow.execute_activity(
                    activity,
                    arg,
                    start_to_close_timeout=STEP_TIMEOUT,
                    retry_policy=COMP_RETRY,
                    **self._route(activity),
                )
            except ActivityError as err:
                if not host_gone(err):
                    raise
                self._host_lost(activity)
                state, reason = self.stop_state, (self.stop_reason or reason)
                self.view_.left_on_host.append(activity)
                continue
            self.view_.compensated.append(activity)
            if activity == contracts.RELEASE and isinstance(out, list):
                for waiting in out:
                    if isinstance(waiting, str) and waiting != self.req.session_id:
                        await self._notify(waiting, messages.WAKE, None)
        self.view_.ended = True
        self._set(state, reason)

    # ------------------------------------------------------------------ web UI
    def _set(self, state: str, reason: str | None = None) -> None:
        self.view_.state = state
        if reason is not None:
            self.view_.reason = reason[:MAX_REASON]
        self._publish()

    def _publish(self) -> None:
        workflow.upsert_search_attributes(
            [
                sa.PERSONA_KIND.value_set("app"),
                sa.PERSONA_ID.value_set(self.req.persona_id),
                sa.PERSONA_STATUS.value_set(self.view_.state),
            ]
        )
        session = self.view_
        extra = f" [{session.reason}]" if session.reason else ""
        usage = ""
        if session.usage:
            last = session.usage[-1]
            usage = (
                f"; usage at {last.at}: cpu {last.cpu_seconds:.2f} s, memory "
                f"{last.memory_mb:.1f}/{last.memory_limit_mb:.0f} MB, {last.pids} processes "
                f"({session.samples_taken} samples)"
            )
            if session.egress:
                usage += f", egress {last.egress_allowed} allowed/{last.egress_refused} refused"
        workflow.set_current_details(
            f"app session {session.session_id}: {session.persona_id} for {session.user_id} "
            f"(p{session.priority}) {session.state}{extra}; "
            f"steps {', '.join(session.steps) or 'none'}{usage}"
        )

    # ------------------------------------------------------------------ messages
    @workflow.query
    def view(self) -> SessionView:
        """The session's state, steps, compensations and lease."""
        return self.view_

    @workflow.query
    def usage_history(self) -> list[UsageSample]:
        """The latest periodic usage samples, oldest first."""
        return self.view_.usage

    @workflow.signal(name=messages.WAKE)
    def wake(self, raw: Any = None) -> None:
        """Capacity was freed: a queued session tries to reserve again."""
        self.woken = True

    @workflow.signal(name=messages.PREEMPT)
    def preempt(self, raw: Any) -> None:
        """A higher-priority session takes this one's resources (malformed: ignored)."""
        try:
            notice = PreemptNotice.model_validate(raw)
        except ValidationError:
            workflow.logger.warning("ignored a malformed preemption notice")
            return
        if self.stop_reason is None and not self.view_.ended:
            self.stop_state = "preempted"
            self.stop_reason = f"preempted by session {notice.by_session} (p{notice.priority})"

    @workflow.signal(name=messages.SANDBOX_GONE)
    def sandbox_gone(self, raw: Any) -> None:
        """The engine reported the container's end: the session ends as ``lost`` (once it has
        a container; malformed: ignored)."""
        try:
            notice = GoneNotice.model_validate(raw)
        except ValidationError:
            workflow.logger.warning("ignored a malformed sandbox notice")
            return
        if self.view_.container_id is not None and not self.view_.ended:
            self._lost(notice.why)

    @workflow.signal(name=messages.REVOKED)
    def revoked_signal(self, raw: Any = None) -> None:
        """The user's grant was withdrawn: refuse commands now and end (malformed: ignored)."""
        try:
            notice = RevokeNotice.model_validate(raw or {})
        except ValidationError:
            workflow.logger.warning("ignored a malformed revocation notice")
            return
        self.revoked = True
        if self.stop_reason is None and not self.view_.ended:
            self.stop_state = "revoked"
            self.stop_reason = f"grant of {self.req.persona_id} revoked by {notice.by}"

    @workflow.update
    async def settled(self) -> SessionView:
        """Wait until the session runs or has ended; returns its view."""
        await workflow.wait_condition(lambda: self.view_.state == "running" or self.view_.ended)
        return self.view_

    @workflow.update
    async def release(self, cmd: ReleaseCommand) -> SessionView:
        """Release the session; returns once everything is taken back."""
        if self.stop_reason is None:
            self.stop_state, self.stop_reason = "released", cmd.reason
        await workflow.wait_condition(lambda: self.view_.ended)
        return self.view_

    @release.validator
    def _validate_release(self, cmd: ReleaseCommand) -> None:
        self._owner(cmd.user_id)

    @workflow.update
    async def run_command(self, cmd: RunCommand) -> contracts.RunResult:
        """Run a command inside the running session; returns its output and a usage sample.
        A command that finds the container gone ends the session (``lost``) and says why."""
        try:
            result: contracts.RunResult = await workflow.execute_activity(
                contracts.EXEC,
                contracts.ExecRequest(
                    session_id=self.req.session_id,
                    argv=cmd.argv,
                    persona_id=self.req.persona_id,
                    user_id=self.req.user_id,
                ),
                result_type=contracts.RunResult,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=1),
                **self._route(contracts.EXEC),
            )
        except ActivityError as err:
            if host_gone(err):
                self._host_lost(contracts.EXEC)
                raise ApplicationError(self.stop_reason or "host lost", type="HostLost") from None
            if _is_gone(err):
                self._lost(failure_cause(err))
            raise ApplicationError(failure_cause(err), type="CommandFailed") from None
        return result

    @run_command.validator
    def _validate_run(self, cmd: RunCommand) -> None:
        self._owner(cmd.user_id)
        self._running()

    def _running(self) -> None:
        if self.revoked:
            raise ApplicationError(
                f"user {self.req.user_id} may no longer use persona {self.req.persona_id}",
                type="Revoked",
            )
        if self.view_.state != "running" or self.stop_reason is not None:
            raise ApplicationError(
                f"session {self.req.session_id} is {self.view_.state}, not running",
                type="NotRunning",
            )

    @workflow.update
    async def sample_usage(self, query: UsageQuery) -> contracts.Usage:
        """A sample of the running session's CPU time and memory."""
        try:
            usage = await self._usage(STEP_TIMEOUT, STEP_RETRY)
        except ActivityError as err:
            if host_gone(err):
                self._host_lost(contracts.USAGE)
                raise ApplicationError(self.stop_reason or "host lost", type="HostLost") from None
            raise
        return usage

    @sample_usage.validator
    def _validate_usage(self, query: UsageQuery) -> None:
        self._owner(query.user_id)
        self._running()

    def _owner(self, user_id: str) -> None:
        if user_id != self.req.user_id:
            raise ApplicationError(
                f"session {self.req.session_id} is not yours", type="NotYourSession"
            )


def _is_gone(err: ActivityError) -> bool:
    """True when an activity found the session's container gone or stopped."""
    cause = err.cause
    return isinstance(cause, ApplicationError) and cause.type == contracts.SANDBOX_GONE


def _cancelled(err: ActivityError) -> bool:
    """True when an activity ended because the workflow was cancelled."""
    return isinstance(err.cause, CancelledError)
