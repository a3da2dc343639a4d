"""``personas resource``, ``grant``, ``revoke``, ``tools``, ``memory``: store-only (no Temporal)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from activities.agent.memory_store import MemoryStore
from activities.store import Store
from clients.cli import run_async
from personas.agent.memory import WINDOW, Exchange
from runtime.settings import Settings
from tests.helpers import cli_output


@pytest.fixture
def offline(tmp_path: Path) -> Settings:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return Settings(
        temporal_address=f"127.0.0.1:{port}",
        task_queue="agent-cli",
        state_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
    )


async def test_resources_grants_and_tools(
    offline: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def ok(*argv: str) -> str:
        return await cli_output(capsys, offline, *argv)

    async def fails(*argv: str) -> str:
        capsys.readouterr()
        assert await run_async(list(argv), settings=offline) == 2
        return capsys.readouterr().err

    await ok("entity", "add", "acme", "--name", "Acme")
    await ok("create", "--entity", "acme", "--name", "Ada", "--model", "m", "--specialization", "s")
    await ok("resource", "add", "acme", "handbook", "--type", "files", "--location", str(tmp_path))
    await ok("resource", "add", "acme", "shop", "--type", "sql", "--location", "/srv/shop.db")
    assert "relative" not in await ok("resource", "show", "acme")
    assert "absolute" in await fails(
        "resource", "add", "acme", "x", "--type", "files", "--location", "rel/path"
    )
    out = await ok("--json", "grant", "Ada", "--scope", "handbook:read", "--scope", "shop")
    assert json.loads(out)["scope"] == ["handbook:read", "shop:read"]
    assert "can be granted at read" in await fails("grant", "Ada", "--scope", "handbook:write")
    tools = json.loads(await ok("--json", "tools", "Ada"))
    assert {t["function"]["name"] for t in tools} == {
        "files_list", "files_read", "files_search", "sql_query",
    }  # fmt: skip
    await ok("create", "--entity", "acme", "--name", "Bea", "--model", "m", "--specialization", "s")
    out = await ok("--json", "delegate", "Ada", "Bea", "--scope", "shop")
    assert json.loads(out)["scope"] == ["shop:read"]
    assert "holds it at read" in await fails("delegate", "Ada", "Bea", "--scope", "shop:write")
    reach = json.loads(await ok("--json", "reach", "acme", "shop"))
    assert [len(r["chain"]) for r in reach] == [1, 2]
    assert " > " in await ok("reach", "acme", "shop")
    await ok("revoke", "Ada", "shop")
    assert "nobody reaches it" in await ok("reach", "acme", "shop")
    assert "revoked" in await ok("undelegate", "Ada", "Bea", "shop")
    assert "sql_query" not in await ok("tools", "Ada")
    assert "1 grants revoked" in await ok("resource", "remove", "acme", "handbook")
    assert "nothing in scope" in await ok("tools", "Ada")
    assert "no tool calls" in await ok("tool-audit", "Ada")
    assert "no answers yet" in await ok("replies", "Ada")
    with pytest.raises(SystemExit):
        await run_async(["replies", "Ada", "-n", "0"], settings=offline)
    assert "expected 1..1000, got 0" in capsys.readouterr().err


async def test_create_with_agent_steps_stores_them_and_refuses_too_many(
    offline: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    await cli_output(capsys, offline, "entity", "add", "acme", "--name", "Acme")
    base = ("create", "--entity", "acme", "--model", "m", "--specialization", "s")
    out = await cli_output(capsys, offline, "--json", *base, "--name", "Ada", "--agent-steps", "6")
    assert json.loads(out)["body"]["life"]["agent_max_steps"] == 6
    capsys.readouterr()
    assert (
        await run_async([*base, "--name", "Bea", "--agent-steps", "100000"], settings=offline) == 2
    )
    assert "agent_max_steps" in capsys.readouterr().err


async def test_memory_shows_what_a_persona_remembers(
    offline: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async def ok(*argv: str) -> str:
        return await cli_output(capsys, offline, *argv)

    await ok("entity", "add", "acme", "--name", "Acme")
    created = await ok(
        "--json", "create", "--entity", "acme", "--name", "Ada", "--model", "m",
        "--specialization", "s",
    )  # fmt: skip
    assert "nothing remembered yet" in await ok("memory", "Ada")
    store = Store(offline.database_url)
    try:
        memories = MemoryStore(store.engine)
        pid = json.loads(created)["persona_id"]
        for n in range(WINDOW + 1):
            memories.remember(pid, "person:bob", Exchange.of(f"i{n}", f"q{n}", f"a{n}."))
    finally:
        store.dispose()
    text = await ok("memory", "Ada")
    assert f"person:bob: {WINDOW} recent, 1 summarised" in text
    assert "summary: Asked: q0 Answered: a0." in text
    assert f"i{WINDOW}: q{WINDOW} -> a{WINDOW}." in text
    shown = json.loads(await ok("--json", "memory", "Ada"))
    assert [e["item_id"] for e in shown["person:bob"]["window"]][-1] == f"i{WINDOW}"
