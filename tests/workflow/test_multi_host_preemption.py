"""Priority and preemption across hosts: two host workers (in process, hosts ``pa`` and
``pb``, room for two sessions each) and a life worker. Sessions spread over both hosts; a
higher-priority session that may preempt, with both hosts full, is placed on one, preempts the
lower-priority session there and runs on that host; every other session is untouched."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.app.activities import AppActivities
from activities.app.capacity import register_host
from activities.store import Store
from runtime.converter import data_converter
from tests.workflow.app_support import Rig, admin_secret, app_settings, end_sessions
from workers import registry


@pytest.fixture
async def rig(
    dev_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> AsyncIterator[Rig]:
    base = f"mhp-{uuid.uuid4().hex[:8]}"
    small = {"host_cpu_millis": 1000, "host_memory_mb": 1024}
    life_settings = app_settings(tmp_path, **small)
    deployment = life_settings.deployment_id
    hosts = {
        h: app_settings(tmp_path, host_id=h, deployment_id=deployment, **small)
        for h in ("pa", "pb")
    }
    acts = [AppActivities(sqlite_store, s) for s in (life_settings, *hosts.values())]
    rig = Rig(dev_env.client, sqlite_store, base, life_settings)
    rig.started, rig.admin = set(), admin_secret(sqlite_store)
    try:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(
                registry.Workers(dev_env.client, base, registry.app_of(acts[0]), ("life",))
            )
            target = dev_env.client.service_client.config.target_host
            for host_acts in acts[1:]:
                register_host(sqlite_store, host_acts.settings)
                # a client of its own, as another machine's worker has (one worker per queue
                # and client)
                own = await Client.connect(target, data_converter=data_converter)
                await stack.enter_async_context(
                    registry.Workers(own, base, registry.app_of(host_acts), ("host",))
                )
            try:
                yield rig
            finally:
                for s in hosts.values():
                    await end_sessions(dev_env.client, sqlite_store, s, rig.started)
    finally:
        for a in acts:
            await a.close()


async def test_a_preempting_session_takes_a_lower_priority_place_on_one_host(rig: Rig) -> None:
    token = await rig.code_reviewer_for("alice")
    held = [await rig.request("code-reviewer", token, priority=p) for p in (2, 2, 7, 7)]
    assert all(v.state == "running" for v in held)
    by_host: dict[str, list[int]] = {}
    for v in held:
        by_host.setdefault(v.host_id or "", []).append(v.priority)
    assert sorted(by_host) == ["pa", "pb"]  # spread over both, two each
    assert all(len(p) == 2 for p in by_host.values())

    urgent = await rig.request("code-reviewer", token, priority=9, preempt=True)
    assert urgent.state == "running"
    views = {v.session_id: await rig.view(v.session_id) for v in held}
    preempted = [v for v in views.values() if v.state == "preempted"]
    assert len(preempted) == 1
    (victim,) = preempted
    assert victim.host_id == urgent.host_id
    assert victim.priority == min(by_host[urgent.host_id or ""])
    others = [v for v in views.values() if v.session_id != victim.session_id]
    assert all(v.state == "running" for v in others)
