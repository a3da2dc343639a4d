"""A real worker process's metrics endpoints: ``run_worker`` on the dev server with both
Prometheus endpoints on free ports; work moves the domain's series and the SDK's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.store import Store
from clients.api import PersonaClient
from clients.app_api import AppClient
from personas.ids import persona_workflow_id
from runtime.settings import Settings
from tests.helpers import eventually, profile
from workers.main import run_worker

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def scrape(port: int) -> dict[str, float]:
    """Every sample of the endpoint on ``port``, by series (name and labels)."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics", timeout=10)).text
    samples = {}
    for line in text.splitlines():
        if m := SAMPLE.match(line):
            samples[m.group(1)] = float(m.group(2))
    return samples


def total(samples: dict[str, float], name: str) -> float:
    """The sum of a metric's samples over its labels."""
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


@pytest.fixture
async def worker(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Settings, PersonaClient]]:
    monkeypatch.setenv("PERSONAS_APP_DEV_MODE", "true")
    monkeypatch.setenv("PERSONAS_DEPLOYMENT_ID", f"metrics-{uuid.uuid4().hex[:6]}")
    settings = Settings(
        _env_file=None,
        temporal_address=dev_env.client.service_client.config.target_host,
        task_queue=f"metrics-{uuid.uuid4().hex[:8]}",
        state_dir=tmp_path,
        sdk_metrics_port=free_port(),
        metrics_port=free_port(),
    )
    task = asyncio.create_task(run_worker(settings))
    store = Store(settings.resolved_database_url())
    personas = PersonaClient(dev_env.client, store, settings.task_queue)
    try:
        await eventually(lambda: _up(settings.metrics_port), bool)
        yield settings, personas
    finally:
        for record in store.list_personas():
            with contextlib.suppress(Exception):
                await dev_env.client.get_workflow_handle(
                    persona_workflow_id(record.persona_id)
                ).terminate("test over")
        apps = AppClient(dev_env.client, store, settings.task_queue)
        with contextlib.suppress(Exception):
            await dev_env.client.get_schedule_handle(await apps.ensure_reconciler()).delete()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        store.dispose()


async def _up(port: int) -> bool:
    try:
        await scrape(port)
    except httpx.HTTPError:
        return False
    return True


async def test_work_moves_domain_and_sdk_metrics(
    worker: tuple[Settings, PersonaClient],
) -> None:
    settings, personas = worker
    before = await scrape(settings.metrics_port)
    personas.store.upsert_entity("acme", "Acme", ["repo:web", "repo:api", "docs"])
    pid = (await personas.create_persona(profile(), created_by="t")).persona_id
    await personas.post_to_persona(pid, "hello", "bob")
    await personas.post_to_persona(pid, "now please", "bob", priority=0.95)
    await eventually(lambda: personas.view(pid), lambda v: v.stats.processed == 2)
    after = await scrape(settings.metrics_port)

    def moved(name: str) -> float:
        return total(after, name) - total(before, name)

    assert moved("personas_items_processed_total") == 2
    assert moved("personas_inbox_depth_count") == 2
    assert moved("personas_urgent_latency_seconds_count") == 1
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{settings.metrics_port}/metrics")).text
    assert "# TYPE personas_app_sessions gauge" in text
    sdk = await eventually(
        lambda: scrape(settings.sdk_metrics_port),
        lambda s: total(s, "temporal_activity_execution_latency_count") >= 2,
    )
    assert total(sdk, "temporal_workflow_task_execution_latency_count") >= 1
    exported = {k.split("{")[0] for k in [*after, *sdk]} | set(TYPED.findall(text))
    missing = {
        name
        for name in dashboard_series()
        if not {name, f"{name}_total", f"{name}_bucket"} & exported and name not in ON_EVENT_ONLY
    }
    assert not missing, f"the dashboard queries series no endpoint exports: {missing}"


TYPED = re.compile(r"^# TYPE (\S+) ", re.MULTILINE)
DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "personas.json"
#: Series that appear once their first event happened (a failure, a shed, a hold ...).
ON_EVENT_ONLY = {"temporal_workflow_task_execution_failed"}


def dashboard_series() -> set[str]:
    """The metric names the Grafana dashboard's queries read (suffixes stripped)."""
    exprs = [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]]
    names = set(re.findall(r"\b((?:personas|temporal)_[a-z_]+)", " ".join(exprs)))
    return {re.sub(r"_(bucket|total|count|sum)$", "", n) for n in names}
