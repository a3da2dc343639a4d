"""The agent sandbox on the real Docker engine: no network, only the resources in scope
mounted, read-only unless write is granted; a narrower scope gets a new container."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.agent.activities import IMAGE_CACHE
from activities.agent.fixtures import materialize
from activities.agent.sandbox import AgentSandboxes, session_of
from activities.app.images import ImageBuilder
from activities.app.sandbox import SandboxGone
from personas.agent.resources import Level, Resource, ResourceType, ScopedResource
from tests.agent_probes import CONTROLS, probes


@pytest.fixture
def sandboxes() -> Iterator[AgentSandboxes]:
    """Agent sandboxes owned by a deployment id of this test's own (removed after)."""
    boxes = AgentSandboxes(ImageBuilder(IMAGE_CACHE), call_timeout_s=2)
    boxes.deployment = f"test-{uuid.uuid4().hex[:10]}"
    yield boxes
    for session in boxes.live():
        boxes.remove(session)


def held(name: str, type_: ResourceType, location: Path, level: Level) -> ScopedResource:
    """``name`` at ``level`` (grantable at read and write)."""
    resource = Resource(
        entity_id="acme",
        name=name,
        type=type_,
        location=str(location),
        levels=(Level.READ, Level.WRITE) if type_ is ResourceType.FILES else (Level.READ,),
    )
    return ScopedResource(resource=resource, level=level)


async def host_listener() -> tuple[asyncio.Server, int]:
    """A listener on every host address that accepts and closes."""
    server = await asyncio.start_server(lambda _, w: w.close(), "0.0.0.0", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_only_the_scope_is_mounted_and_nothing_gets_out(
    sandboxes: AgentSandboxes, tmp_path: Path
) -> None:
    where = materialize(tmp_path / "agent")
    notes = tmp_path / "notes"
    notes.mkdir()
    notes.chmod(0o777)
    scope = [
        held("handbook", ResourceType.FILES, where["handbook"], Level.READ),
        held("shop", ResourceType.SQL, where["shop"], Level.READ),
        held("notes", ResourceType.FILES, notes, Level.WRITE),
    ]
    session = await asyncio.to_thread(sandboxes.warm, "ada", scope)
    container = sandboxes._container(session)
    assert container is not None
    container.reload()
    assert container.attrs["HostConfig"]["NetworkMode"] == "none"
    assert {m["Destination"]: m["RW"] for m in container.attrs["Mounts"]} == {
        "/res/handbook": False,
        "/res/shop.db": False,
        "/res/notes": True,
    }
    server, port = await host_listener()
    try:
        attempts = probes(["172.17.0.1"], port, str(where["vault"]))
        runs = [await asyncio.to_thread(sandboxes.run, session, list(p.argv)) for p in attempts]
        controls = [await asyncio.to_thread(sandboxes.run, session, list(c.argv)) for c in CONTROLS]
    finally:
        server.close()
        await server.wait_closed()
    assert [p.name for p, run in zip(attempts, runs, strict=True) if p.escaped(run)] == []
    assert [c.name for c, run in zip(CONTROLS, controls, strict=True) if not c.escaped(run)] == []
    assert session in sandboxes._executors  # through the command loop, not docker exec
    assert (notes / "probe").read_text() == "ok\n"  # the granted write reached the host
    assert (where["handbook"] / "refunds.md").exists()
    assert not (where["handbook"] / "probe").exists()

    # notes revoked: the warm sandbox is replaced by one without it
    narrower = await asyncio.to_thread(sandboxes.warm, "ada", scope[:2])
    assert narrower == session == session_of("ada")
    replaced = sandboxes._container(session)
    assert replaced is not None
    assert replaced.id != container.id
    assert {m["Destination"] for m in replaced.attrs["Mounts"]} == {"/res/handbook", "/res/shop.db"}
    gone = await asyncio.to_thread(sandboxes.run, session, ["ls", "/res/notes"])
    assert gone.exit_code != 0


async def test_the_command_loop_frames_by_length_and_enforces_the_limits(
    sandboxes: AgentSandboxes, tmp_path: Path
) -> None:
    where = materialize(tmp_path / "agent")
    scope = [held("handbook", ResourceType.FILES, where["handbook"], Level.READ)]
    session = await asyncio.to_thread(sandboxes.warm, "ada", scope)
    # output that looks like the loop's own framing is data
    fake = f"\n@@{'0' * 32} 0 1 0\nX@@end\n"
    run = await asyncio.to_thread(sandboxes.run, session, ["printf", "%s", fake])
    assert (run.exit_code, run.stdout) == (0, fake.encode())
    # arguments are never parsed by a shell: quotes, spaces, globs, newlines, empty ones
    tricky = ["a b", "'$(id)'", "*", "line\n", ""]
    run = await asyncio.to_thread(sandboxes.run, session, ["printf", "[%s]", *tricky])
    assert run.stdout.decode() == "".join(f"[{a}]" for a in tricky)
    # the time limit (2 s here) kills, the output limit cuts
    slow = await asyncio.to_thread(sandboxes.run, session, ["sleep", "30"])
    assert slow.exit_code == 137
    big = await asyncio.to_thread(sandboxes.run, session, ["cat", "/dev/zero"], 1000)
    assert len(big.stdout) == 1000
    # a loop killed from inside: the call says the sandbox is gone; warm starts a new one
    with pytest.raises(SandboxGone):
        await asyncio.to_thread(sandboxes.run, session, ["kill", "-9", "-1"])
    session = await asyncio.to_thread(sandboxes.warm, "ada", scope)
    again = await asyncio.to_thread(sandboxes.run, session, ["cat", "/res/handbook/refunds.md"])
    assert b"14 days" in again.stdout
