"""Failures injected at every saga step, crashes after a step's side effect, a worker gone
silent (retried after the heartbeat timeout), several deaths in a row, cancellation and the
reconciler: nothing is left behind (no container, volume, reservation)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import docker
import pytest
from temporalio.client import ScheduleActionExecutionStartWorkflow, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from activities.app.activities import Fault
from activities.app.contracts import STEPS, ReconcileReport
from activities.app.egress import EgressProxies
from activities.app.resources import ResourceManager
from activities.app.settings import AppSettings
from activities.store import Store
from clients.api import PersonaError
from personas.app.policy import Amount
from personas.ids import session_workflow_id
from tests.helpers import eventually
from tests.workflow.app_support import Rig, app_rig, fetcher, leaks, orphan_sandbox
from workflows.app_session import STEP_ATTEMPTS, STEP_TIMEOUT


@pytest.mark.parametrize("step", STEPS)
async def test_failure_at_each_step_leaves_nothing(
    dev_env: WorkflowEnvironment, sqlite_store: Store, settings: AppSettings, step: str
) -> None:
    async with app_rig(dev_env.client, sqlite_store, settings, faults={step: "fail"}) as rig:
        await rig.code_reviewer_for("alice")
        with pytest.raises(PersonaError, match=f"injected failure at step {step}"):
            await rig.request("code-reviewer", rig.token("alice"))
        (sid,) = rig.started
        assert leaks(sqlite_store, {sid}).total() == 0
        record = rig.repo.session(sid)
        assert record is not None
        assert record.state == "failed"
        view = await rig.view(sid)
        assert view.compensated[-1] == "app_end"
        assert view.ended


@pytest.mark.parametrize("step", STEPS)
async def test_crash_after_side_effect_is_retried_idempotently(
    dev_env: WorkflowEnvironment, sqlite_store: Store, settings: AppSettings, step: str
) -> None:
    async with app_rig(dev_env.client, sqlite_store, settings, faults={step: "crash_once"}) as rig:
        token = await rig.code_reviewer_for("alice")
        view = await rig.request("code-reviewer", token)
        assert view.state == "running"
        held = leaks(sqlite_store, {view.session_id})
        assert len(held.docker) == 3
        assert len(held.reservations) == 1
        usage = ResourceManager(sqlite_store.url).usage(settings.host_id)
        assert usage.used == Amount(cpu_millis=500, memory_mb=64, storage_mb=16)
        await rig.release(view.session_id, token)
        assert leaks(sqlite_store, {view.session_id}).total() == 0
        assert ResourceManager(sqlite_store.url).usage(settings.host_id).used == Amount()


@pytest.mark.parametrize("fault", ["fail", "crash_once"])
async def test_fault_at_the_egress_step(
    dev_env: WorkflowEnvironment, sqlite_store: Store, settings: AppSettings, fault: Fault
) -> None:
    async with app_rig(dev_env.client, sqlite_store, settings, faults={"egress": fault}) as rig:
        token = await rig.granted("alice", fetcher(8080))
        if fault == "fail":
            with pytest.raises(PersonaError, match="injected failure at step egress"):
                await rig.request("fetcher", token)
            (sid,) = rig.started
            view = await rig.view(sid)
            assert view.compensated == ["app_egress_stop", "app_release", "app_end"]
        else:
            view = await rig.request("fetcher", token)
            sid = view.session_id
            held = leaks(sqlite_store, {sid})
            assert (len(held.docker), held.proxies) == (3, {sid})
            await rig.release(sid, token)
        assert leaks(sqlite_store, {sid}).total() == 0


async def test_worker_stopped_mid_step_another_worker_finishes(
    dev_env: WorkflowEnvironment, sqlite_store: Store, settings: AppSettings
) -> None:
    queue = f"app-{uuid.uuid4().hex[:8]}"
    async with app_rig(
        dev_env.client, sqlite_store, settings, faults={"create": "stall"}, queue=queue
    ) as first:
        token = await first.code_reviewer_for("alice")
        view = await first.request("code-reviewer", token, wait=False)
        sid = view.session_id
        await eventually(
            lambda: asyncio.to_thread(leaks, sqlite_store, {sid}), lambda lk: len(lk.docker) == 3
        )
        first.started.clear()  # stopping this worker must not end the session
    async with app_rig(dev_env.client, sqlite_store, settings, queue=queue) as second:
        second.started.add(sid)
        running = await second.wait_settled(sid)
        assert running.steps[-1] == "health"
        assert len(leaks(sqlite_store, {sid}).docker) == 3  # the retry reused the container
        await second.release(sid, token)
        assert leaks(sqlite_store, {sid}).total() == 0


async def test_cancellation_runs_compensations(
    dev_env: WorkflowEnvironment, sqlite_store: Store, rig: Rig
) -> None:
    await rig.code_reviewer_for("alice")
    view = await rig.request("code-reviewer", rig.token("alice"))
    handle = dev_env.client.get_workflow_handle(session_workflow_id(view.session_id))
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert leaks(sqlite_store, {view.session_id}).total() == 0
    record = rig.repo.session(view.session_id)
    assert record is not None
    assert record.reason == "cancelled"


async def test_reconciler_schedule_removes_orphans(
    dev_env: WorkflowEnvironment, sqlite_store: Store, settings: AppSettings, rig: Rig
) -> None:
    await rig.code_reviewer_for("alice")
    live = await rig.request("code-reviewer", rig.token("alice"))
    dead = await rig.request("code-reviewer", rig.token("alice"))
    await rig.kill(dead.session_id)
    orphan = f"orphan-{uuid.uuid4().hex[:8]}"
    rig.started.add(orphan)
    orphan_sandbox(settings, live.image or "", session_id=orphan)
    stale = EgressProxies(settings.egress_root)
    await stale.start(orphan, ("example.com:443",), deployment=settings.deployment_id)
    await stale.close()  # as a dead worker leaves it
    assert leaks(sqlite_store, {dead.session_id, orphan}).total() == 8
    schedule_id = await rig.ensure_reconciler(
        every=timedelta(hours=1), schedule_id=f"rec-{uuid.uuid4().hex[:8]}"
    )
    handle = dev_env.client.get_schedule_handle(schedule_id)
    try:
        await handle.trigger()
        desc = await eventually(handle.describe, lambda d: bool(d.info.recent_actions))
        run = desc.info.recent_actions[-1].action
        assert isinstance(run, ScheduleActionExecutionStartWorkflow)
        report = await dev_env.client.get_workflow_handle(
            run.workflow_id, run_id=run.first_execution_run_id, result_type=ReconcileReport
        ).result()
    finally:
        await handle.delete()
    assert {dead.session_id, orphan} <= set(report.orphaned)
    assert live.session_id not in report.orphaned
    assert leaks(sqlite_store, {dead.session_id, orphan}).total() == 0
    assert len(leaks(sqlite_store, {live.session_id}).docker) == 3
    assert docker.from_env().containers.get(f"persona-app-{live.session_id}").status == "running"


async def test_a_step_whose_worker_went_silent_is_retried_in_seconds(
    dev_env: WorkflowEnvironment, sqlite_store: Store, settings: AppSettings
) -> None:
    async with app_rig(dev_env.client, sqlite_store, settings, faults={"create": "hang"}) as rig:
        token = await rig.code_reviewer_for("alice")
        began = time.monotonic()
        view = await rig.request("code-reviewer", token)
        took = time.monotonic() - began
        assert view.state == "running"
        assert took < STEP_TIMEOUT.total_seconds() / 2, took  # the heartbeat timeout, not 60 s
        assert len(leaks(sqlite_store, {view.session_id}).docker) == 3
        await rig.release(view.session_id, token)
        assert leaks(sqlite_store, {view.session_id}).total() == 0


@pytest.mark.parametrize("step", ["create", "configure", "health"])
async def test_a_few_worker_deaths_never_fail_a_session(
    dev_env: WorkflowEnvironment, sqlite_store: Store, settings: AppSettings, step: str
) -> None:
    assert STEP_ATTEMPTS > 4
    async with app_rig(dev_env.client, sqlite_store, settings, faults={step: "crash_4"}) as rig:
        token = await rig.code_reviewer_for("alice")
        view = await rig.request("code-reviewer", token)
        assert view.state == "running"
        await rig.release(view.session_id, token)
        assert leaks(sqlite_store, {view.session_id}).total() == 0
