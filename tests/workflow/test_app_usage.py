"""Usage sampled on a durable cadence, on the time-skipping server (real Docker): samples
accrue with simulated time, the kept history is bounded, and the client and CLI report it."""

from __future__ import annotations

import argparse
import itertools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.store import Store
from clients.api import PersonaClient, PersonaError
from clients.app_cli import add_app_commands, run_app_command
from personas.ids import session_workflow_id
from tests.helpers import CliContext, eventually
from tests.workflow.app_support import KEY, app_rig, app_settings, leaks
from workflows.app_session import AppSession


async def run_cli(ctx: CliContext, argv: list[str]) -> Any:
    """Run an ``app`` CLI command; returns what it emitted (data, text)."""
    parser = argparse.ArgumentParser(prog="personas")
    add_app_commands(parser.add_subparsers(dest="command", required=True))
    await run_app_command(ctx, parser.parse_args(argv))
    return ctx.out[-1]


async def test_usage_is_sampled_while_the_session_runs(
    time_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONAS_APP_JWT_KEYS", json.dumps([KEY]))  # the CLI's settings
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    store.upsert_entity("acme", "Acme")
    settings = app_settings(tmp_path, usage_interval_s=600, usage_history=4)
    try:
        async with app_rig(time_env.client, store, settings) as rig:
            token = await rig.code_reviewer_for("alice")
            view = await rig.request("code-reviewer", token, lease_s=6 * 3600, wait=False)
            sid = view.session_id
            await eventually(lambda: rig.view(sid), lambda v: v.state == "running")
            assert (await rig.view(sid)).samples_taken == 0
            await time_env.sleep(1800 + 60)
            v = await rig.view(sid)
            assert v.state == "running"
            assert v.samples_taken == 3
            await time_env.sleep(3600)
            v = await rig.view(sid)
            assert v.samples_taken == 9
            assert v.samples_missed == 0
            assert len(v.usage) == 4  # only the latest samples are kept
            times = [datetime.fromisoformat(s.at) for s in v.usage]
            gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
            assert all(600 <= g < 660 for g in gaps), gaps
            assert all(s.memory_limit_mb == 64 for s in v.usage)
            assert all(s.cpu_percent is not None and s.cpu_percent >= 0 for s in v.usage)
            handle = time_env.client.get_workflow_handle(session_workflow_id(sid))
            assert await handle.query(AppSession.usage_history) == v.usage
            assert await rig.usage_history(sid, token) == v.usage
            with pytest.raises(PersonaError, match="is not yours"):
                await rig.usage_history(sid, rig.token("bob"))
            ctx = CliContext(PersonaClient(rig.client, rig.store, rig.task_queue))
            samples, text = await run_cli(ctx, ["app", "usage", sid, "--history", "--token", token])
            assert samples == v.usage
            assert len(text.splitlines()) == 4
            assert "processes" in text
            _view, text = await run_cli(ctx, ["app", "show", sid, "--token", token])
            assert "usage (9 samples, 0 missed)" in text
            final = await rig.release(sid, token)
            assert final.state == "released"
            assert final.samples_taken == 9
            assert leaks(store, {sid}).total() == 0
    finally:
        store.dispose()
