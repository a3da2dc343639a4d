"""The broker's client API for app personas: define, grant, request, run, release.

Every refusal is a :class:`clients.api.PersonaError` with one line: bad tokens (expired,
forged, wrong audience), personas the user may not use, sessions that are not theirs,
malformed personas or configuration. Identity is checked here, at the edge; the workflow
checks authorisation and ownership again.
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
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from activities.app.broker import Broker, IdentityError
from activities.app.contracts import RunResult, Usage
from activities.app.repository import AppRepository, VersionedAppPersona
from activities.app.settings import AppSettings, get_app_settings
from activities.store import Store, StoreError, UnknownEntity
from clients.api import PersonaError, explain
from personas.app.models import AppPersona, SessionRequest
from personas.app.views import ReleaseCommand, RunCommand, SessionView, UsageQuery, UsageSample
from personas.ids import session_workflow_id
from runtime import search_attributes as sa
from workflows.app_reconciler import AppReconciler
from workflows.app_session import AppSession

RECONCILER_SCHEDULE = "app-reconciler"


def app_persona(**fields: Any) -> AppPersona:
    """Validate an app persona's fields; PersonaError explains what is malformed."""
    try:
        return AppPersona.model_validate(fields)
    except ValidationError as err:
        raise PersonaError(f"invalid app persona: {explain(err)}") from None


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

    # personas and grants
    async def define(self, entity_id: str, created_by: str, **fields: Any) -> VersionedAppPersona:
        """Store a new app persona or a new version of it."""
        persona = app_persona(**fields)
        try:
            return await asyncio.to_thread(self.repo.save, persona, entity_id, created_by)
        except (StoreError, UnknownEntity) as err:
            raise PersonaError(str(err)) from None

    async def get(self, persona_id: str, version: int | None = None) -> VersionedAppPersona:
        """A stored version (latest by default)."""
        try:
            return await asyncio.to_thread(self.repo.get, persona_id, version)
        except StoreError as err:
            raise PersonaError(str(err)) from None

    async def grant(self, persona_id: str, user_id: str) -> None:
        """Allow a user to request the persona."""
        await self.get(persona_id)
        await asyncio.to_thread(self.repo.grant, persona_id, user_id)

    def user(self, token: str) -> str:
        """The verified user of ``token``; PersonaError says why a token is refused."""
        try:
            return self.broker.verify(token)
        except IdentityError as err:
            raise PersonaError(str(err)) from None

    # sessions
    def _handle(self, session_id: str) -> WorkflowHandle[Any, SessionView]:
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
    ) -> SessionView:
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
            raise PersonaError(f"invalid request: {explain(err)}") from None
        await self.client.start_workflow(
            AppSession.run,
            req,
            id=session_workflow_id(req.session_id),
            task_queue=self.task_queue,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.PERSONA_KIND, "app"),
                    SearchAttributePair(sa.PERSONA_ID, persona_id),
                    SearchAttributePair(sa.PERSONA_STATUS, "validating"),
                ]
            ),
            static_summary=f"app session of {persona_id} for {user_id}",
        )
        if not wait:
            return await self.view(req.session_id)
        return await self.wait_settled(req.session_id)

    async def wait_settled(self, session_id: str) -> SessionView:
        """Wait until the session runs or has ended; an ended one raises its reason."""
        handle = self._handle(session_id)
        try:
            view: SessionView = await handle.execute_update(AppSession.settled)
        except (WorkflowUpdateFailedError, RPCError):
            try:
                view = await handle.result()
            except WorkflowFailureError as err:
                raise PersonaError(f"session {session_id} failed: {err.cause}") from None
        if view.state != "running":
            raise PersonaError(f"session {session_id} {view.state}: {view.reason}")
        return view

    async def view(self, session_id: str) -> SessionView:
        """The session's state, steps and compensations."""
        try:
            view: SessionView = await self._handle(session_id).query(AppSession.view)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise PersonaError(f"unknown session {session_id}") from None
            raise
        return view

    async def release(self, session_id: str, token: str) -> SessionView:
        """releasePersona: take everything back; only the session's user may."""
        user_id = self.user(token)
        return await self._update(session_id, AppSession.release, ReleaseCommand(user_id=user_id))

    async def run(self, session_id: str, token: str, argv: list[str]) -> RunResult:
        """Run a command inside the session; returns its output and a usage sample."""
        user_id = self.user(token)
        try:
            cmd = RunCommand(user_id=user_id, argv=tuple(argv))
        except ValidationError as err:
            raise PersonaError(f"invalid command: {explain(err)}") from None
        result: RunResult = await self._update(session_id, AppSession.run_command, cmd)
        return result

    async def usage(self, session_id: str, token: str) -> Usage:
        """A sample of the session's CPU time and memory (its user only)."""
        user_id = self.user(token)
        sample: Usage = await self._update(
            session_id, AppSession.sample_usage, UsageQuery(user_id=user_id)
        )
        return sample

    async def usage_history(self, session_id: str, token: str) -> list[UsageSample]:
        """The session's recent periodic usage samples, oldest first (its user only)."""
        user_id = self.user(token)
        view = await self.view(session_id)
        if view.user_id != user_id:
            raise PersonaError(f"session {session_id} is not yours")
        return view.usage

    async def _update(self, session_id: str, update: Any, arg: Any) -> Any:
        try:
            return await self._handle(session_id).execute_update(update, arg)
        except WorkflowUpdateFailedError as err:
            raise PersonaError(str(getattr(err.cause, "message", None) or err.cause)) from None
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise PersonaError(f"session {session_id} is not running") from None
            raise

    async def ensure_reconciler(
        self, every: timedelta = timedelta(minutes=5), schedule_id: str = RECONCILER_SCHEDULE
    ) -> str:
        """Create the Temporal Schedule that runs the reconciler (kept when it exists)."""
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
