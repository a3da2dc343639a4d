"""``personas --api URL``: the persona commands through a real uvicorn serving the app, with
an entity's key; the same output as through the store, and the API's refusals as one line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import uvicorn

from clients.cli import run_async
from tests.api.conftest import World
from tests.helpers import eventually, free_port


@pytest.fixture
async def served(world: World) -> AsyncIterator[str]:
    """The world's app on a free port of 127.0.0.1; its base URL."""
    port = free_port()
    app = world.http._transport.app  # type: ignore[attr-defined]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started, bool, timeout_s=20)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_persona_commands_work_through_the_api(
    world: World, served: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def cli(key: str, *argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await run_async(["--api", served, "--api-key", key, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = await cli(
        world.acme, "--json", "create", "--entity", "acme", "--name", "Remote",
        "--model", "m", "--specialization", "s", "--scope", "repo:web",
    )  # fmt: skip
    assert code == 0, err
    pid = json.loads(out)["persona_id"]
    code, out, err = await cli(world.acme, "list")
    assert code == 0, err
    assert "Remote" in out
    assert (await cli(world.acme, "start", "Remote"))[0] == 0
    code, out, err = await cli(world.acme, "post", "Remote", "hello over http")
    assert code == 0, err
    assert out.startswith("delivered ")
    code, out, err = await cli(world.acme, "--json", "state", pid)
    assert code == 0, err
    assert json.loads(out)["persona_id"] == pid
    code, out, err = await cli(world.acme, "inbox", pid)
    assert code == 0, err

    code, out, err = await cli(world.globex, "state", pid)
    assert code == 2
    assert err.startswith("error: ")
    assert "may not act on persona" in err
    code, _, err = await cli(world.acme, "trigger", pid, "payday")
    assert code == 2
    assert "unknown trigger 'payday'" in err
    code, _, err = await cli("pak_forged_key", "list")
    assert err.strip() == "error: unknown API key"
    code, _, err = await cli(world.acme, "entity", "add", "x", "--name", "X")
    assert code == 2
    assert "does not work through --api yet" in err
