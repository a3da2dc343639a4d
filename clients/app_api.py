"""The broker's client API for app personas: define, grant, request, run, release.

Every refusal is a :class:`clients.api.PersonaError` with one line: bad tokens (expired,
forged, wrong audience), personas the user may not use, sessions that are not theirs,
malformed personas or configuration, missing or foreign credentials. Identity is checked
here, at the edge; the workflow checks authorisation and ownership again.

Management actions (define, grant, revoke, and showing a session to anyone but its user)
need ``credential``: an administrator's secret or an API key of a persona of the owning
entity (:mod:`activities.app.authority`). A revocation ends the user's running sessions of
the persona at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities import ownership
from activities.app.authority import Authority, NotAuthorised
from activities.app.broker import Broker, IdentityError
from activities.app.contracts import RunResult, Usage
from activities.app.repository import AppRepository, VersionedAppPersona
from activities.app.settings import AppSettings, get_app_settings
from activities.store import Store, StoreError, UnknownEntity
from clients.api import PersonaError
from personas import messages
from personas.app import views
from personas.app.models import AppPersona, SessionRequest
from personas.ids import session_workflow_id
from runtime import search_attributes as sa
from workflows.app_reconciler import AppReconciler
from workflows.app_session import AppSession
from workflows.common import failure_cause

RECONCILER_SCHEDULE = "app-reconciler"
MAX_MESSAGE = 300
"""Longest refusal line a client raises."""


def reconciler_schedule_id(deployment: str, task_queue: str) -> str:
    """The reconciler's schedule of one deployment on one task queue (one per host queue)."""
    return f"{RECONCILER_SCHEDULE}-{deployment}-{task_queue}"[:900]


def _cause(err: BaseException) -> str:
    """The innermost one-line reason of a failed update or workflow (not the wrapper's)."""
    seen = err
    while getattr(seen, "cause", None) is not None:
        seen = seen.cause  # type: ignore[attr-defined]
        if not str(getattr(seen, "message", "") or seen).startswith("Activity task failed"):
            break
    return failure_cause(seen)[:MAX_MESSAGE]


def one_line(err: ValidationError) -> str:
    """A validation error as one bounded line: each location part and message cut short, so
    a huge key or value is never echoed."""
    parts = []
    for e in err.errors():
        where = ".".join(str(p)[:40] for p in e["loc"]) or "input"
        parts.append(f"{where}: {str(e['msg']).removeprefix('Value error, ')[:200]}")
    text = "; ".join(parts)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def app_persona(**fields: Any) -> AppPersona:
    """Validate an app persona's fields; PersonaError explains what is malformed."""
    try:
        return AppPersona.model_validate(fields)
    except ValidationError as err:
        raise PersonaError(f"invalid app persona: {one_line(err)}") from None


class AppClient:
    """The broker: app personas and their sessions."""

    def __init__(
        self,
        client: Client,
        store: Store,
        task_queue: str,
        settings: AppSettings | None = None,
    ) -> None:
        """Use ``client`` (pydantic converter), ``store``, ``task_queue`` and app settings."""
        self.client = client
        self.store = store
        self.task_queue = task_queue
        self.settings = settings or get_app_settings()
        self.broker = Broker(self.settings)
        self.repo = AppRepository(store)
        self.authority = Authority(store)

    def deployment(self) -> str:
        """The deployment this client's sessions belong to (see ``activities.ownership``)."""
        return ownership.of_client(self.settings.deployment_id, self.client, self.store.url)

    async def _authorise(self, entity_id: str, credential: str | None, action: str) -> str:
        try:
            return await asyncio.to_thread(self.authority.actor, entity_id, credential, action)
        except NotAuthorised as err:
            raise PersonaError(str(err)[:MAX_MESSAGE]) from None

    async def _owner_of(self, persona_id: str) -> str:
        return (await self.get(persona_id)).entity_id

    # personas and grants
    async def define(
        self, entity_id: str, created_by: str, credential: str | None = None, **fields: Any
    ) -> VersionedAppPersona:
        """Store a new app persona or a new version of it, with credentials of ``entity_id``
        (a new version also of the entity that owns the persona)."""
        persona = app_persona(**fields)
        actor = await self._authorise(entity_id, credential, f"defining {persona.persona_id}")
        return await self.define_as(actor, entity_id, created_by, persona)

    async def define_as(
        self, actor: str, entity_id: str, created_by: str, persona: AppPersona
    ) -> VersionedAppPersona:
        """``define`` for an ``actor`` the caller has already authorised for ``entity_id``
        (the REST API, by its entity-scoped key)."""
        try:
            current = await asyncio.to_thread(self.repo.get, persona.persona_id)
        except StoreError:
            current = None
        if current is not None and current.entity_id != entity_id:
            raise PersonaError(
                f"persona {persona.persona_id} belongs to entity {current.entity_id}, not"
                f" {entity_id[:64]}"
            )
        try:
            return await asyncio.to_thread(
                self.repo.save, persona, entity_id, f"{created_by[:64]} ({actor[:128]})"
            )
        except (StoreError, UnknownEntity) as err:
            raise PersonaError(str(err)[:MAX_MESSAGE]) from None

    async def get(self, persona_id: str, version: int | None = None) -> VersionedAppPersona:
        """A stored version (latest by default)."""
        try:
            return await asyncio.to_thread(self.repo.get, persona_id, version)
        except StoreError as err:
            raise PersonaError(str(err)) from None

    async def grant(self, persona_id: str, user_id: str, credential: str | None = None) -> None:
        """Allow a user to request the persona (credentials of its entity)."""
        await self._authorise(
            await self._owner_of(persona_id), credential, f"granting {persona_id}"
        )
        await self.grant_as(persona_id, user_id)

    async def grant_as(self, persona_id: str, user_id: str) -> None:
        """``grant`` for a caller already authorised for the persona's entity."""
        await self.get(persona_id)  # an app persona, not another kind's id
        if not user_id or len(user_id) > 128:
            raise PersonaError("a user id is 1-128 characters")
        await asyncio.to_thread(self.repo.grant, persona_id, user_id)

    async def revoke(
        self, persona_id: str, user_id: str, credential: str | None = None
    ) -> list[str]:
        """Withdraw a user's grant (credentials of the persona's entity) and end the user's
        running sessions of the persona at once; returns the sessions told to end."""
        entity = await self._owner_of(persona_id)
        actor = await self._authorise(entity, credential, f"revoking {persona_id}")
        return await self.revoke_as(actor, persona_id, user_id)

    async def revoke_as(self, actor: str, persona_id: str, user_id: str) -> list[str]:
        """``revoke`` for an ``actor`` already authorised for the persona's entity."""
        await self.get(persona_id)
        await asyncio.to_thread(self.repo.revoke, persona_id, user_id)
        live = await asyncio.to_thread(self.repo.live_sessions_of, persona_id, user_id)
        notice = views.RevokeNotice(by=actor[:128])
        for sid in live:
            with contextlib.suppress(RPCError):  # an ended session needs nothing
                await self._handle(sid).signal(messages.REVOKED, notice)
        return live

    def user(self, token: str) -> str:
        """The verified user of ``token``; PersonaError says why a token is refused."""
        if len(token) > 8192:
            raise PersonaError("token refused: longer than 8192 characters")
        try:
            user = self.broker.verify(token)
        except IdentityError as err:
            raise PersonaError(str(err)[:MAX_MESSAGE]) from None
        if len(user) > 128:
            raise PersonaError("token refused: its subject is longer than 128 characters")
        return user

    # sessions
    def _handle(self, session_id: str) -> WorkflowHandle[Any, views.SessionView]:
        return self.client.get_workflow_handle_for(AppSession.run, session_workflow_id(session_id))

    def new_session_id(self) -> str:
        """A fresh session id."""
        return f"s-{uuid.uuid4().hex[:12]}"

    async def request(
        self,
        persona_id: str,
        token: str,
        *,
        environment: str = "default",
        priority: int = 5,
        preempt: bool = False,
        lease_s: int = 3600,
        queue_timeout_s: int = 600,
        wait: bool = True,
    ) -> views.SessionView:
        """requestPersona: start a session; with ``wait``, return once it runs or ends."""
        user_id = self.user(token)
        try:
            req = SessionRequest(
                session_id=self.new_session_id(),
                persona_id=persona_id,
                user_id=user_id,
                environment=environment,
                priority=priority,
                preempt=preempt,
                lease_s=lease_s,
                queue_timeout_s=queue_timeout_s,
            )
        except ValidationError as err:
            raise PersonaError(f"invalid request: {one_line(err)}") from None
        await self.client.start_workflow(
            AppSession.run,
            req,
            id=session_workflow_id(req.session_id),
            task_queue=self.task_queue,
            search_attributes=sa.starting("app", "validating", persona_id=persona_id),
            static_summary=f"app session of {persona_id} for {user_id}",
        )
        if not wait:
            return await self._view(req.session_id)
        return await self.wait_settled(req.session_id)

    async def wait_settled(self, session_id: str) -> views.SessionView:
        """Wait until the session runs or has ended; an ended one raises its reason."""
        handle = self._handle(session_id)
        try:
            view: views.SessionView = await handle.execute_update(AppSession.settled)
        except (WorkflowUpdateFailedError, RPCError):
            try:
                view = await handle.result()
            except WorkflowFailureError as err:
                raise PersonaError(f"session {session_id} failed: {_cause(err)}") from None
        if view.state != "running":
            raise PersonaError(f"session {session_id} {view.state}: {view.reason[:MAX_MESSAGE]}")
        return view

    async def view(
        self, session_id: str, token: str | None = None, credential: str | None = None
    ) -> views.SessionView:
        """The session's state, steps and compensations: for its user (``token``), or with
        credentials of the persona's entity or an administrator (``credential``)."""
        if token is None and credential is None:
            raise PersonaError(
                f"showing session {session_id[:64]} needs the user's token or credentials of"
                " the persona's entity"
            )
        view = await self._view(session_id)
        if token is not None and credential is None:
            if self.user(token) != view.user_id:
                raise PersonaError(f"session {session_id} is not yours")
            return view
        await self._authorise(await self._owner_of(view.persona_id), credential, "showing it")
        return view

    async def _view(self, session_id: str) -> views.SessionView:
        try:
            view: views.SessionView = await self._handle(session_id).query(AppSession.view)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise PersonaError(f"unknown session {session_id}") from None
            raise
        return view

    async def release(self, session_id: str, token: str) -> views.SessionView:
        """releasePersona: take everything back; only the session's user may."""
        user_id = self.user(token)
        return await self._update(
            session_id, AppSession.release, views.ReleaseCommand(user_id=user_id)
        )

    async def run(self, session_id: str, token: str, argv: list[str]) -> RunResult:
        """Run a command inside the session; returns its output and a usage sample."""
        user_id = self.user(token)
        try:
            cmd = views.RunCommand(user_id=user_id, argv=tuple(argv))
        except ValidationError as err:
            raise PersonaError(f"invalid command: {one_line(err)}") from None
        result: RunResult = await self._update(session_id, AppSession.run_command, cmd)
        return result

    async def usage(self, session_id: str, token: str) -> Usage:
        """A sample of the session's CPU time and memory (its user only)."""
        user_id = self.user(token)
        sample: Usage = await self._update(
            session_id, AppSession.sample_usage, views.UsageQuery(user_id=user_id)
        )
        return sample

    async def usage_history(self, session_id: str, token: str) -> list[views.UsageSample]:
        """The session's recent periodic usage samples, oldest first (its user only)."""
        return (await self.view(session_id, token=token)).usage

    async def _update(self, session_id: str, update: Any, arg: Any) -> Any:
        try:
            return await self._handle(session_id).execute_update(update, arg)
        except WorkflowUpdateFailedError as err:
            raise PersonaError(_cause(err)) from None
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise PersonaError(f"session {session_id} is not running") from None
            raise

    async def reconcile_host(self, host_id: str) -> str:
        """Start one reconciliation of ``host_id`` alone (a host worker does when it starts:
        what its sessions left while it was gone is removed); its workflow id (one run at a
        time per deployment, queue and host)."""
        workflow_id = f"{reconciler_schedule_id(self.deployment(), self.task_queue)}-{host_id}"
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow(
                AppReconciler.run, host_id, id=workflow_id[:900], task_queue=self.task_queue
            )
        return workflow_id[:900]

    async def ensure_reconciler(
        self, every: timedelta = timedelta(minutes=5), schedule_id: str | None = None
    ) -> str:
        """Create the Temporal Schedule that runs this deployment's reconciler on this task
        queue (kept when it exists); its id names both, so deployments sharing a Temporal
        namespace each keep their own."""
        schedule_id = schedule_id or reconciler_schedule_id(self.deployment(), self.task_queue)
        with contextlib.suppress(ScheduleAlreadyRunningError):
            await self.client.create_schedule(
                schedule_id,
                Schedule(
                    action=ScheduleActionStartWorkflow(
                        AppReconciler.run,
                        id=f"{schedule_id}-run",
                        task_queue=self.task_queue,
                    ),
                    spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
                ),
            )
        return schedule_id
