"""Lease expiry on the time-skipping server: a durable timer ends the session and the
compensations take everything back (real Docker)."""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from activities.store import Store
from personas.app.views import SessionView
from personas.ids import session_workflow_id
from tests.helpers import eventually
from tests.workflow.app_support import app_rig, app_settings, leaks


async def test_lease_expiry_releases_the_session(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    store.upsert_entity("acme", "Acme")
    try:
        async with app_rig(time_env.client, store, app_settings(tmp_path)) as rig:
            token = await rig.code_reviewer_for("alice")
            view = await rig.request("code-reviewer", token, lease_s=4 * 3600, wait=False)
            handle = time_env.client.get_workflow_handle(
                session_workflow_id(view.session_id), result_type=SessionView
            )
            await eventually(lambda: rig.view(view.session_id), lambda v: v.state == "running")
            await time_env.sleep(3 * 3600)
            assert (await rig.view(view.session_id)).state == "running"
            assert len(leaks(store, {view.session_id}).docker) == 3
            await time_env.sleep(3600 + 60)
            final = await handle.result()
            assert final.state == "released"
            assert final.reason == "lease expired"
            assert final.steps[-1] == "health"
            assert final.compensated == ["app_remove", "app_release", "app_end"]
            assert leaks(store, {view.session_id}).total() == 0
    finally:
        store.dispose()
