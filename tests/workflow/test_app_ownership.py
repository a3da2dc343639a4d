"""Two deployments on one Docker engine and one Temporal server: each reconciler removes
its own orphans and never the other's live sessions (or orphans)."""

from __future__ import annotations

import uuid
from pathlib import Path

import docker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.app.contracts import ReconcileReport
from activities.app.settings import AppSettings
from activities.ownership import DEPLOYMENT
from activities.store import Store
from personas.ids import session_workflow_id
from tests.workflow.app_support import Rig, app_rig, app_settings, leaks, orphan_sandbox
from workflows.app_reconciler import AppReconciler


def _store(path: Path) -> Store:
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.upsert_entity("acme", "Acme", ["docs"])
    return store


def _orphan(settings: AppSettings, image: str) -> str:
    """A container and volumes of ``settings``' deployment that no session owns."""
    return orphan_sandbox(settings, image)


async def _reconcile(client: Client, rig: Rig) -> ReconcileReport:
    return await client.execute_workflow(
        AppReconciler.run, id=f"rec-{uuid.uuid4().hex[:8]}", task_queue=rig.task_queue
    )


async def test_two_deployments_on_one_engine_remove_only_their_own(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    store_a, store_b = _store(tmp_path / "a.db"), _store(tmp_path / "b.db")
    settings_a = app_settings(tmp_path / "a")
    settings_b = app_settings(tmp_path / "b")
    assert settings_a.deployment_id != settings_b.deployment_id
    engine = docker.from_env()
    try:
        async with (
            app_rig(dev_env.client, store_a, settings_a) as a,
            app_rig(dev_env.client, store_b, settings_b) as b,
        ):
            lives, orphans = {}, {}
            for rig, settings in ((a, settings_a), (b, settings_b)):
                token = await rig.code_reviewer_for("alice")
                live = await rig.request("code-reviewer", token)
                dead = await rig.request("code-reviewer", token)
                await dev_env.client.get_workflow_handle(
                    session_workflow_id(dead.session_id)
                ).terminate("gone")
                orphan = _orphan(settings, live.image or "")
                rig.started.add(orphan)
                lives[rig.task_queue] = live.session_id
                orphans[rig.task_queue] = {dead.session_id, orphan}
                labels = engine.containers.get(f"persona-app-{live.session_id}").labels
                assert labels[DEPLOYMENT] == settings.deployment_id

            report_a = await _reconcile(dev_env.client, a)
            assert set(report_a.orphaned) == orphans[a.task_queue]
            assert leaks(store_a, orphans[a.task_queue]).total() == 0
            b_held = orphans[b.task_queue] | {lives[b.task_queue]}
            assert not b_held & set(report_a.orphaned)
            assert len(leaks(store_b, b_held).docker) == 9  # B's live and orphans untouched

            report_b = await _reconcile(dev_env.client, b)
            assert set(report_b.orphaned) == orphans[b.task_queue]
            assert leaks(store_b, orphans[b.task_queue]).total() == 0
            for rig in (a, b):
                live_id = lives[rig.task_queue]
                assert engine.containers.get(f"persona-app-{live_id}").status == "running"
                assert (await rig.view(live_id)).state == "running"
    finally:
        store_a.dispose()
        store_b.dispose()


async def test_reconciler_schedules_are_per_deployment_and_queue(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    store = _store(tmp_path / "s.db")
    try:
        async with (
            app_rig(dev_env.client, store, app_settings(tmp_path / "a")) as a,
            app_rig(dev_env.client, store, app_settings(tmp_path / "b")) as b,
        ):
            ids = {await a.ensure_reconciler(), await b.ensure_reconciler()}
            try:
                assert len(ids) == 2
                assert all(a.task_queue in i or b.task_queue in i for i in ids)
            finally:
                for sid in ids:
                    await dev_env.client.get_schedule_handle(sid).delete()
    finally:
        store.dispose()
