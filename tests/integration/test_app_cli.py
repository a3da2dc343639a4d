"""The ``app`` CLI commands against the dev server and Docker, through ``add_app_commands``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from activities.app.settings import AppSettings
from activities.store import Store
from clients.api import PersonaClient, PersonaError
from clients.app_cli import add_app_commands, run_app_command
from tests.helpers import CliContext
from tests.workflow.app_support import KEY, Rig, app_settings, code_reviewer, leaks


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppSettings:
    """Settings the CLI reads from the environment, as the worker's."""
    s = app_settings(tmp_path)
    monkeypatch.setenv("PERSONAS_APP_JWT_KEYS", json.dumps([KEY]))
    monkeypatch.setenv("PERSONAS_APP_HOST_ID", s.host_id)
    monkeypatch.setenv("PERSONAS_APP_DATA_ROOT", str(s.data_root))
    return s


async def run(ctx: CliContext, argv: list[str]) -> Any:
    parser = argparse.ArgumentParser(prog="personas")
    add_app_commands(parser.add_subparsers(dest="command", required=True))
    await run_app_command(ctx, parser.parse_args(argv))
    return ctx.out[-1]


async def test_cli_request_run_release(rig: Rig, tmp_path: Path) -> None:
    ctx = CliContext(PersonaClient(rig.client, rig.store, rig.task_queue))
    spec = tmp_path / "reviewer.json"
    spec.write_text(json.dumps(code_reviewer()))
    with pytest.raises(PersonaError, match="needs credentials"):
        await run(ctx, ["app", "define", str(spec), "--entity", "acme"])
    key = ["--key", rig.admin]
    assert (await run(ctx, ["app", "define", str(spec), "--entity", "acme", *key]))[1] == (
        "code-reviewer v1"
    )
    with pytest.raises(PersonaError, match="granting code-reviewer needs credentials"):
        await run(ctx, ["app", "grant", "code-reviewer", "alice"])
    await run(ctx, ["app", "grant", "code-reviewer", "alice", *key])
    token = (await run(ctx, ["app", "token", "alice"]))[0]["token"]
    view, text = await run(ctx, ["app", "request", "code-reviewer", "--token", token])
    rig.started.add(view.session_id)
    assert "running" in text
    _out, text = await run(ctx, ["app", "run", "--token", token, view.session_id, "--", "id", "-u"])
    assert text.startswith("10001\n(exit 0; cpu")
    sample, text = await run(ctx, ["app", "usage", view.session_id, "--token", token])
    assert sample.memory_limit_mb == 64
    assert "processes" in text
    bob = (await run(ctx, ["app", "token", "bob"]))[0]["token"]
    with pytest.raises(PersonaError, match="is not yours"):
        await run(ctx, ["app", "release", view.session_id, "--token", bob])
    with pytest.raises(PersonaError, match="is not yours"):
        await run(ctx, ["app", "usage", view.session_id, "--token", bob])
    with pytest.raises(PersonaError, match="bad signature"):
        await run(ctx, ["app", "release", view.session_id, "--token", token[:-4] + "AAAA"])
    with pytest.raises(PersonaError, match="needs the user's token"):
        await run(ctx, ["app", "show", view.session_id])
    with pytest.raises(PersonaError, match="is not yours"):
        await run(ctx, ["app", "show", view.session_id, "--token", bob])
    assert (await run(ctx, ["app", "show", view.session_id, "--token", token]))[0].state == (
        "running"
    )
    assert (await run(ctx, ["app", "show", view.session_id, *key]))[0].user_id == "alice"
    final, text = await run(ctx, ["app", "release", view.session_id, "--token", token])
    assert final.state == "released"
    assert leaks(rig.store, {view.session_id}).total() == 0
