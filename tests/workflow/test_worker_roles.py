"""Worker roles on separate task queues: a life, a solver and a host worker (each a
``registry.Workers`` for one role, with its own identity) serve a negotiation and an app
session; every activity was scheduled on its role's queue and ran on that role's worker."""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.app.activities import AppActivities
from activities.app.settings import AppSettings
from activities.queues import ROLES, host_queue, is_pinned, queue_name, role_of
from activities.store import Store
from personas.ids import negotiation_workflow_id, session_workflow_id
from personas.instance.negotiation import NegotiationConfig
from tests.helpers import eventually
from tests.workflow.app_support import Rig, admin_secret, end_sessions
from tests.workflow.negotiation_support import DockerProvider, Negotiator, end_negotiations
from workers import registry


async def ran_where(client: Client, workflow_id: str) -> list[tuple[str, str, str]]:
    """(activity type, task queue scheduled on, identity of the worker that started it) for
    every activity of ``workflow_id``'s history."""
    scheduled: dict[int, tuple[str, str]] = {}
    out = []
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            scheduled[event.event_id] = (attrs.activity_type.name, attrs.task_queue.name)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            name, queue = scheduled[started.scheduled_event_id]
            out.append((name, queue, started.identity))
    return out


def check_routing(runs: list[tuple[str, str, str]], base: str, host_id: str) -> Counter[str]:
    """Every activity ran on its role's queue and worker (a host-bound one on the host's
    pinned queue); how many ran per role."""
    for name, queue, identity in runs:
        role = role_of(name)
        expected = host_queue(base, host_id) if is_pinned(name) else queue_name(base, role)
        assert queue == expected, (name, queue)
        who = f"host-{host_id}" if role == "host" else role
        assert identity == f"roles-{role}/{who}", (name, identity)
    return Counter(role_of(name) for name, _, _ in runs)


@contextlib.asynccontextmanager
async def role_workers(client: Client, base: str, registered: registry.Registration) -> Any:
    """One ``Workers`` per role, each serving that role alone (as separate processes would)."""
    async with contextlib.AsyncExitStack() as stack:
        for role in ROLES:
            await stack.enter_async_context(
                registry.Workers(
                    client,
                    base,
                    registered,
                    (role,),
                    identity=f"roles-{role}",
                    activity_executor=ThreadPoolExecutor(max_workers=4),
                )
            )
        yield


@pytest.fixture
async def setup(
    dev_env: WorkflowEnvironment, sqlite_store: Store, settings: AppSettings
) -> AsyncIterator[tuple[str, Negotiator, Rig]]:
    base = f"roles-{uuid.uuid4().hex[:8]}"
    acts = AppActivities(sqlite_store, settings)
    provider = DockerProvider()
    registered = registry.app_of(acts) + registry.instance(
        sqlite_store, providers={"docker": provider}
    )
    neg = Negotiator(dev_env.client, sqlite_store, base)
    neg.started = []
    rig = Rig(dev_env.client, sqlite_store, base, settings)
    rig.started = set()
    rig.admin = admin_secret(sqlite_store)
    try:
        async with role_workers(dev_env.client, base, registered):
            try:
                yield base, neg, rig
            finally:
                await end_sessions(dev_env.client, sqlite_store, settings, rig.started)
                await end_negotiations(dev_env.client, neg.started)
    finally:
        await acts.close()


async def test_negotiation_and_app_session_run_each_activity_on_its_role(
    setup: tuple[str, Negotiator, Rig], dev_env: WorkflowEnvironment
) -> None:
    base, neg, rig = setup
    nid = await neg.start(
        entity_id="acme",
        name="shop",
        provider="docker",
        text="run a small web site",
        base="web_server",
        config=NegotiationConfig(round_timeout_s=3600, observe_after_s=3600, lifetime_s=3600),
    )
    v1 = await eventually(lambda: neg.view(nid), lambda v: v.status == "awaiting_answer")
    await neg.accept(nid, 1, v1.proposals[0].proposal_id, wait=False)
    await eventually(lambda: neg.view(nid), lambda v: v.status == "provisioned")
    await neg.release(nid)
    assert (await neg.result(nid)).status == "released"
    per_role = check_routing(
        await ran_where(dev_env.client, negotiation_workflow_id(nid)), base, rig.settings.host_id
    )
    assert per_role["solver"] >= 2  # analyze, solve
    assert per_role["host"] >= 2  # provision, deprovision
    assert per_role["life"] >= 1  # save the persona

    token = await rig.code_reviewer_for("alice")
    view = await rig.request("code-reviewer", token)
    assert view.state == "running"
    out = await rig.run(view.session_id, token, ["sh", "-c", "echo hi"])
    assert out.result.output == "hi\n"
    assert (await rig.release(view.session_id, token)).state == "released"
    runs = await ran_where(dev_env.client, session_workflow_id(view.session_id))
    per_role = check_routing(runs, base, rig.settings.host_id)
    assert per_role["host"] >= 6  # image, create, configure, start, health, exec, remove ...
    assert per_role["life"] >= 3  # validate, reserve, release, end
