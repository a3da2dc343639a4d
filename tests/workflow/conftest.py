"""Fixtures for workflow tests: a SQLite store, a worker and a client on one task queue."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.app.settings import AppSettings
from activities.providers import OfflineDeterministicProvider
from activities.store import Store
from clients.api import PersonaClient
from personas.ids import persona_workflow_id
from tests.workflow.app_support import app_settings
from workers.main import build_worker


async def end_lives(client: Client, store: Store) -> None:
    """Terminate the persona workflows of a test, so none is left waiting without a worker.

    A leftover workflow with a pending task stops the time-skipping server from skipping.
    """
    for record in store.list_personas():
        handle = client.get_workflow_handle(persona_workflow_id(record.persona_id))
        with contextlib.suppress(RPCError):
            await handle.terminate("test finished")


@pytest.fixture
async def time_personas(
    time_env: WorkflowEnvironment, sqlite_store: Store
) -> AsyncIterator[PersonaClient]:
    """A persona client with a running worker, on the time-skipping server."""
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    worker = build_worker(time_env.client, sqlite_store, OfflineDeterministicProvider(), queue)
    async with worker:
        yield PersonaClient(time_env.client, sqlite_store, queue)
        await end_lives(time_env.client, sqlite_store)


@pytest.fixture
async def dev_personas(
    dev_env: WorkflowEnvironment, sqlite_store: Store
) -> AsyncIterator[PersonaClient]:
    """A persona client with a running worker, on the dev server."""
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    worker = build_worker(dev_env.client, sqlite_store, OfflineDeterministicProvider(), queue)
    async with worker:
        yield PersonaClient(dev_env.client, sqlite_store, queue)
        await end_lives(dev_env.client, sqlite_store)


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    """App persona settings: a small host of its own."""
    return app_settings(tmp_path)
