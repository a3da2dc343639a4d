"""Sessions whose container dies (removed from outside, or every process killed inside)
end as ``lost`` and release their reservation at once: from the engine's event, or from the
next usage sample when the engine's events are not followed. Commands say why."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import docker
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.app.resources import ResourceManager
from activities.store import Store
from clients.api import PersonaError
from personas.app.policy import Amount
from personas.app.views import SessionView
from tests.helpers import eventually
from tests.workflow.app_support import Rig, app_rig, app_settings, leaks


async def _ended(rig: Rig, sid: str) -> SessionView:
    return await eventually(lambda: rig.view(sid), lambda v: v.ended, timeout_s=60)


def _used(rig: Rig) -> Amount:
    rm = ResourceManager(rig.store.url)
    try:
        return rm.usage(rig.settings.host_id).used
    finally:
        rm.dispose()


async def _running(rig: Rig) -> tuple[str, str]:
    token = await rig.code_reviewer_for("alice")
    return (await rig.request("code-reviewer", token)).session_id, token


@pytest.mark.parametrize("how", ["removed", "killed inside"])
async def test_engine_event_ends_a_session_whose_container_died(
    dev_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path, how: str
) -> None:
    settings = app_settings(tmp_path)  # samples every 900 s: only the engine's event helps
    async with app_rig(dev_env.client, sqlite_store, settings) as rig:
        sid, token = await _running(rig)
        container = docker.from_env().containers.get(f"persona-app-{sid}")
        began = time.monotonic()
        if how == "removed":
            await asyncio.to_thread(container.remove, force=True)
        else:
            await asyncio.to_thread(container.exec_run, ["kill", "-9", "-1"], user="10001:10001")
        final = await _ended(rig, sid)
        took = time.monotonic() - began
        assert final.state == "lost"
        assert final.reason.startswith("sandbox lost: the container")
        assert took < settings.usage_interval_s
        assert _used(rig) == Amount()
        assert leaks(sqlite_store, {sid}).total() == 0
        record = rig.repo.session(sid)
        assert record is not None
        assert record.state == "lost"
        with pytest.raises(PersonaError, match="not running"):
            await rig.run(sid, token, ["true"])


async def test_failed_sample_ends_a_session_within_one_interval(
    dev_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    settings = app_settings(tmp_path, usage_interval_s=3)
    async with app_rig(dev_env.client, sqlite_store, settings, faults={"watch": "fail"}) as rig:
        sid, _ = await _running(rig)
        container = docker.from_env().containers.get(f"persona-app-{sid}")
        await asyncio.to_thread(container.remove, force=True)
        began = time.monotonic()
        final = await _ended(rig, sid)
        assert time.monotonic() - began < 2 * settings.usage_interval_s + 5
        assert final.state == "lost"
        assert "is gone" in final.reason
        assert final.samples_missed == 0
        assert _used(rig) == Amount()


async def test_a_command_in_a_dead_sandbox_says_why_and_ends_the_session(
    dev_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    settings = app_settings(tmp_path)
    async with app_rig(dev_env.client, sqlite_store, settings, faults={"watch": "fail"}) as rig:
        sid, token = await _running(rig)
        container = docker.from_env().containers.get(f"persona-app-{sid}")
        await asyncio.to_thread(container.remove, force=True)
        with pytest.raises(PersonaError, match=f"the container of session {sid} is gone"):
            await rig.run(sid, token, ["true"])
        final = await _ended(rig, sid)
        assert final.state == "lost"
        assert _used(rig) == Amount()
        assert leaks(sqlite_store, {sid}).total() == 0
