"""``personas resource``, ``grant``, ``revoke``, ``tools``: store-only, no Temporal needed."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from clients.cli import run_async
from runtime.settings import Settings


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
        capsys.readouterr()
        code = await run_async(list(argv), settings=offline)
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

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
    await ok("revoke", "Ada", "shop")
    assert "sql_query" not in await ok("tools", "Ada")
    assert "1 grants revoked" in await ok("resource", "remove", "acme", "handbook")
    assert "nothing in scope" in await ok("tools", "Ada")
    assert "no tool calls" in await ok("tool-audit", "Ada")
