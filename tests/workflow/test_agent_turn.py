"""An agent persona answers by using tools over its scope, inside its sandbox, audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.providers import OpenAICompatibleProvider
from activities.store import Store
from clients.cli import run_async
from runtime.settings import Settings
from tests.fakes.openai_server import FakeOpenAI, fake_openai
from tests.workflow.agent_support import agent_rig


async def test_persona_searches_the_handbook_and_queries_the_dataset(
    dev_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    async with agent_rig(dev_env.client, sqlite_store, tmp_path) as rig:
        pid = await rig.agent("Ada", ["handbook:read", "shop:read"])
        answer = await rig.ask(
            pid,
            "search the handbook for refund within. how many orders last week? "
            "and read secrets.txt from vault",
        )
        assert "14 days" in answer
        assert "the answer from shop is 14" in answer
        assert "vault failed: refused" in answer
        assert "hunter2" not in answer
        audit = await rig.agents.tool_audit(pid)
        assert [(a.tool, a.resource, a.allowed) for a in audit] == [
            ("files.search", "handbook", True),
            ("sql.query", "shop", True),
            ("files.read", "vault", False),
        ]
        assert "not in this persona's scope" in audit[2].reason
        assert all(len(a.args_digest) == 64 for a in audit)
        assert [a.reason for a in audit[:2]] == ["ok", "ok"]
        assert all((a.result_ref or "").startswith("tool-") for a in audit[:2])
        assert all(a.bytes_read > 0 for a in audit[:2])
        assert audit[2].result_ref is None
        assert audit[2].bytes_read == 0
        assert len(rig.acts.sandboxes.live()) == 1
        # every step was done once by this process: model, 3 tools (one refused: recorded,
        # never run), model
        assert sorted(rig.acts.executions.values()) == [1, 1, 1, 1]


async def test_openai_compatible_turn_through_the_fake_server(
    dev_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    with fake_openai() as url:
        provider = OpenAICompatibleProvider(url, "sk-fake")
        async with agent_rig(dev_env.client, sqlite_store, tmp_path, provider=provider) as rig:
            pid = await rig.agent("Ada", ["handbook:read"])
            answer = await rig.ask(pid, "list the files in handbook")
        await provider.aclose()
    assert "handbook holds 6 files" in answer
    assert "policies/privacy.md" in answer
    first, second = FakeOpenAI.requests
    assert [t["function"]["name"] for t in first["tools"]] == [
        "files_list",
        "files_read",
        "files_search",
    ]
    assert first["tools"][0]["function"]["parameters"]["properties"]["resource"]["enum"] == [
        "handbook"
    ]
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "tool"]
    assert second["messages"][3]["tool_call_id"] == second["messages"][2]["tool_calls"][0]["id"]


async def test_replies_show_each_answer_with_its_tool_trace(
    dev_env: WorkflowEnvironment,
    sqlite_store: Store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(
        temporal_address="127.0.0.1:1",  # store-only commands never connect
        state_dir=tmp_path / "var",
        database_url=sqlite_store.url,
    )
    async with agent_rig(dev_env.client, sqlite_store, tmp_path) as rig:
        pid = await rig.agent("Ada", ["handbook:read"])
        await rig.ask(pid, "list the files in handbook")
        await rig.ask(pid, "search the handbook for gift cards. read secrets.txt from vault")

    async def cli(*argv: str) -> str:
        capsys.readouterr()
        assert await run_async(list(argv), settings=settings) == 0
        return capsys.readouterr().out

    newest, oldest = json.loads(await cli("--json", "replies", "Ada"))
    assert "not refundable" in newest["answer"]
    assert (newest["turn"], newest["steps"]) == ("answered", 4)
    assert [(t["tool"], t["resource"], t["allowed"]) for t in newest["trace"]] == [
        ("files.search", "handbook", True),
        ("files.read", "vault", False),
    ]
    assert newest["trace"][0]["result_ref"].startswith("tool-")
    assert [t["tool"] for t in oldest["trace"]] == ["files.list"]
    text = await cli("replies", "Ada", "-n", "1")
    assert "answered, 4 steps" in text
    assert "#1 files.search handbook allowed: ok -> tool-" in text
    assert "#2 files.read vault REFUSED: refused: resource 'vault' is not in this" in text
    assert "files.list" not in text  # only the newest answer
