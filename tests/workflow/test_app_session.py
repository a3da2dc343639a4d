"""The app session saga on the dev server and a real Docker engine: provision, run, release."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.app.settings import AppSettings
from activities.store import Store
from clients.api import PersonaError
from personas import messages
from personas.ids import session_workflow_id
from runtime import search_attributes as sa
from tests.workflow.app_support import Rig, app_rig, code_reviewer, leaks


@pytest.fixture
async def rig(
    dev_env: WorkflowEnvironment, sqlite_store: Store, settings: AppSettings
) -> AsyncIterator[Rig]:
    """A worker and broker client with the code reviewer persona granted to alice."""
    async with app_rig(dev_env.client, sqlite_store, settings) as r:
        await r.code_reviewer_for("alice")
        yield r


async def test_session_runs_applications_then_release_takes_everything_back(rig: Rig) -> None:
    token = rig.token("alice")
    view = await rig.request("code-reviewer", token)
    assert view.state == "running"
    assert view.steps == [
        "validate",
        "place",
        "reserve",
        "image",
        "create",
        "configure",
        "start",
        "health",
    ]
    out = await rig.run(
        view.session_id,
        token,
        [
            "sh",
            "-c",
            "jq .max_len /config/review/rules.json; echo $REVIEW_MODE; cat /data/docs/readme.txt",
        ],
    )
    assert out.result.exit_code == 0
    assert out.result.output.split() == ["100", "strict", "hello", "from", "docs"]
    assert out.usage.memory_limit_mb == 64
    held = leaks(rig.store, {view.session_id})
    assert len(held.docker) == 3
    assert held.reservations == {view.session_id}
    handle = rig.client.get_workflow_handle(session_workflow_id(view.session_id))
    attrs = (await handle.describe()).typed_search_attributes
    assert attrs.get(sa.PERSONA_KIND) == "app"
    assert attrs.get(sa.PERSONA_STATUS) == "running"
    assert attrs.get(sa.PERSONA_ID) == "code-reviewer"
    assert attrs.get(sa.ENTITY_ID) == "acme"
    await handle.signal(messages.PREEMPT, {"bogus": 1})  # malformed: ignored, no failing task
    await handle.signal(messages.PREEMPT, "not even an object")
    assert (await rig.view(view.session_id)).state == "running"
    final = await rig.release(view.session_id, token)
    assert final.state == "released"
    assert final.compensated == ["app_remove", "app_release", "app_end"]
    assert leaks(rig.store, {view.session_id}).total() == 0
    record = rig.repo.session(view.session_id)
    assert record is not None
    assert record.state == "released"
    assert record.ended_at is not None


async def test_sandbox_seen_from_inside(rig: Rig) -> None:
    token = rig.token("alice")
    view = await rig.request("code-reviewer", token)
    sid = view.session_id

    async def sh(script: str) -> tuple[int, str]:
        out = await rig.run(sid, token, ["sh", "-c", script])
        return out.result.exit_code, out.result.output

    assert await sh("id -u") == (0, "10001\n")
    code, text = await sh("touch /usr/x")
    assert code != 0
    assert "Read-only file system" in text
    code, text = await sh("echo x > /data/docs/new")
    assert code != 0
    assert "Read-only file system" in text
    assert (await sh("touch /tmp/t /workspace/w && echo ok"))[1] == "ok\n"
    assert (await sh("echo note > /data/scratch/n && cat /data/scratch/n"))[1] == "note\n"
    assert (await sh("ls /sys/class/net"))[1].split() == ["lo"]
    assert (await sh("grep CapEff /proc/self/status"))[1].split()[1] == "0000000000000000"
    assert (await sh("grep NoNewPrivs /proc/self/status"))[1].split()[1] == "1"
    code, text = await sh("head -c 200000000 /dev/zero | tail > /dev/null; echo rc=$?")
    assert "rc=137" in text or "Killed" in text  # the 64 MB limit killed tail
    usage = (await rig.run(sid, token, ["true"])).usage
    assert usage.memory_limit_mb == 64
    assert usage.cpu_seconds > 0
    await rig.release(sid, token)


async def test_storage_quota_enforced_from_inside(rig: Rig) -> None:
    await rig.define(
        "acme",
        "admin",
        **code_reviewer(
            "small-disk",
            persona_name="Small Disk",
            resource_requirements={"cpu_millis": 500, "memory_mb": 96, "storage_mb": 16},
        ),
    )
    await rig.grant("small-disk", "alice")
    token = rig.token("alice")
    sid = (await rig.request("small-disk", token)).session_id

    async def sh(script: str) -> tuple[int, str]:
        out = await rig.run(sid, token, ["sh", "-c", script])
        return out.result.exit_code, out.result.output

    assert (await sh("df -m /workspace | tail -1"))[1].split()[1] == "16"
    code, text = await sh("dd if=/dev/zero of=/workspace/small bs=1M count=8 2>&1")
    assert code == 0, text
    code, text = await sh("dd if=/dev/zero of=/workspace/big bs=1M count=24 2>&1")
    assert code != 0
    assert "No space left on device" in text
    code, text = await sh(
        "rm /workspace/big && echo more > /workspace/after && cat /workspace/after"
    )
    assert (code, text) == (0, "more\n")  # freeing space makes room again
    code, text = await sh("echo x > /config/new")
    assert code != 0  # /config is capped too, and not the user's to write
    await rig.release(sid, token)
    assert leaks(rig.store, {sid}).total() == 0


async def test_bad_input_is_refused_and_leaves_nothing(rig: Rig) -> None:
    alice, bob = rig.token("alice"), rig.token("bob")
    with pytest.raises(PersonaError, match="unknown persona nope"):
        await rig.request("nope", alice)
    with pytest.raises(PersonaError, match="user bob may not use persona code-reviewer"):
        await rig.request("code-reviewer", bob)
    with pytest.raises(PersonaError, match="token refused: expired"):
        await rig.request("code-reviewer", rig.broker.issue("alice", ttl_s=-60))
    with pytest.raises(PersonaError, match="wrong audience"):
        await rig.request("code-reviewer", rig.broker.issue("alice", audience="other"))
    with pytest.raises(PersonaError, match=r"invalid app persona: .*under /config"):
        await rig.define(
            "acme",
            "admin",
            **code_reviewer(
                "bad", application_configuration={"default": {"files": {"/etc/passwd": "x"}}}
            ),
        )
    with pytest.raises(PersonaError, match="network_egress needs a non-empty egress_allowlist"):
        await rig.define(
            "acme", "admin", **code_reviewer("egress", access_controls={"network_egress": True})
        )
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("huge", {"resource_requirements": {"memory_mb": 999_999}}, "beyond the host: memory_mb"),
        (
            "ghost",
            {"required_applications": ["no-such-package-xyz"]},
            "package no-such-package-xyz not found",
        ),
        (
            "nodata",
            {"access_controls": {"data_sources": [{"name": "secret"}]}},
            "data source secret not found",
        ),
    ]
    for pid, fields, match in cases:
        await rig.define("acme", "admin", **code_reviewer(pid, persona_name=pid, **fields))
        await rig.grant(pid, "alice")
        with pytest.raises(PersonaError, match=match):
            await rig.request(pid, alice)
    with pytest.raises(PersonaError, match="no environment 'prod'"):
        await rig.request("code-reviewer", alice, environment="prod")
    view = await rig.request("code-reviewer", alice)
    with pytest.raises(PersonaError, match=f"session {view.session_id} is not yours"):
        await rig.release(view.session_id, bob)
    with pytest.raises(PersonaError, match="is not yours"):
        await rig.run(view.session_id, bob, ["id"])
    assert (await rig.release(view.session_id, alice)).state == "released"
    assert leaks(rig.store, rig.started).total() == 0
    assert len(rig.started) == 7  # each refused request ran (and compensated) its saga
