"""Queueing by priority and age, preemption by policy, release while queued, dead queue
heads skipped and waiters woken when capacity frees, on a host that fits one session at a
time (dev server, real Docker)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.store import Store
from personas.app.views import SessionView
from tests.helpers import eventually
from tests.workflow.app_support import Rig, app_rig, app_settings, leaks
from workflows.app_reconciler import AppReconciler
from workflows.app_session import QUEUE_RECHECK


@pytest.fixture
async def rig(
    dev_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> AsyncIterator[Rig]:
    """A host with room for exactly one 64 MB session."""
    settings = app_settings(tmp_path, host_memory_mb=64)
    async with app_rig(dev_env.client, sqlite_store, settings) as r:
        await r.code_reviewer_for("alice")
        yield r


async def _state(rig: Rig, sid: str, state: str) -> SessionView:
    return await eventually(lambda: rig.view(sid), lambda v: v.state == state)


async def _held(rig: Rig) -> tuple[str, SessionView]:
    """Alice's token and a running session of hers, which fills the host."""
    token = rig.token("alice")
    return token, await rig.request("code-reviewer", token)


async def _queued(rig: Rig, token: str, priority: int | None = None) -> SessionView:
    """A code-reviewer session requested without waiting, once it waits in the queue."""
    if priority is None:
        view = await rig.request("code-reviewer", token, wait=False)
    else:
        view = await rig.request("code-reviewer", token, priority=priority, wait=False)
    return await _state(rig, view.session_id, "queued")


async def test_queue_serves_higher_priority_first(rig: Rig) -> None:
    token, first = await _held(rig)
    low = await _queued(rig, token, priority=3)
    high = await _queued(rig, token, priority=7)
    assert (await rig.view(high.session_id)).queue_position == 0
    await rig.release(first.session_id, token)
    assert (await rig.wait_settled(high.session_id)).state == "running"
    assert (await rig.view(low.session_id)).state == "queued"
    await rig.release(high.session_id, token)
    assert (await rig.wait_settled(low.session_id)).state == "running"
    await rig.release(low.session_id, token)
    assert leaks(rig.store, rig.started).total() == 0


async def test_release_while_queued_leaves_the_queue(rig: Rig) -> None:
    token, first = await _held(rig)
    waiting = await _queued(rig, token)
    final = await rig.release(waiting.session_id, token)
    assert final.state == "released"
    assert "create" not in final.steps
    await rig.release(first.session_id, token)
    assert leaks(rig.store, rig.started).total() == 0


async def test_preemption_releases_lower_priority_cleanly(rig: Rig) -> None:
    token = rig.token("alice")
    low = await rig.request("code-reviewer", token, priority=2)
    high = await rig.request("code-reviewer", token, priority=8, preempt=True)
    assert high.state == "running"
    victim = await rig.view(low.session_id)
    assert victim.ended
    assert victim.state == "preempted"
    assert victim.reason == f"preempted by session {high.session_id} (p8)"
    assert leaks(rig.store, {low.session_id}).total() == 0
    record = rig.repo.session(low.session_id)
    assert record is not None
    assert record.state == "preempted"
    await rig.release(high.session_id, token)
    assert leaks(rig.store, rig.started).total() == 0


async def test_waking_a_session_that_is_gone_does_not_break_release(rig: Rig) -> None:
    token, first = await _held(rig)
    gone = await _queued(rig, token)
    await rig.kill(gone.session_id)
    final = await rig.release(first.session_id, token)
    assert final.state == "released"
    assert leaks(rig.store, {first.session_id}).total() == 0
    assert leaks(rig.store, {gone.session_id}).queued == {gone.session_id}  # for the reconciler


async def test_a_dead_queue_head_is_skipped_at_once(rig: Rig) -> None:
    token, first = await _held(rig)
    dead = await _queued(rig, token, priority=8)
    waiter = await _queued(rig, token, priority=3)
    record = rig.repo.session(waiter.session_id)
    assert record is not None
    assert record.state == "queued"  # the stored record follows the workflow
    await rig.kill(dead.session_id)
    began = time.monotonic()
    await rig.release(first.session_id, token)  # wakes both; the dead head is skipped
    running = await rig.wait_settled(waiter.session_id)
    assert running.state == "running"
    assert time.monotonic() - began < QUEUE_RECHECK.total_seconds()
    assert leaks(rig.store, {dead.session_id}).queued == set()
    stored = await eventually(
        lambda: asyncio.to_thread(rig.repo.session, waiter.session_id),
        lambda r: r is not None and r.state == "running",
    )
    assert stored is not None
    await rig.release(waiter.session_id, token)
    assert leaks(rig.store, rig.started).total() == 0


async def test_the_reconciler_wakes_waiters_when_it_frees_capacity(rig: Rig) -> None:
    token, holder = await _held(rig)
    waiter = await _queued(rig, token)
    await rig.kill(holder.session_id)
    began = time.monotonic()
    report = await rig.client.execute_workflow(
        AppReconciler.run, id=f"rec-{uuid.uuid4().hex[:8]}", task_queue=rig.task_queue
    )
    assert holder.session_id in report.orphaned
    assert (await rig.wait_settled(waiter.session_id)).state == "running"
    assert time.monotonic() - began < QUEUE_RECHECK.total_seconds()
    await rig.release(waiter.session_id, token)
    assert leaks(rig.store, rig.started).total() == 0
