"""Fixtures for workflow tests: a SQLite store, a worker and a client on one task queue."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.store import Store
from clients.api import PersonaClient
from tests.helpers import end_lives, persona_worker


@pytest.fixture
async def time_personas(
    time_env: WorkflowEnvironment, sqlite_store: Store
) -> AsyncIterator[PersonaClient]:
    """A persona client with a running worker, on the time-skipping server."""
    async with persona_worker(time_env.client, sqlite_store, "tq") as personas:
        yield personas


@pytest.fixture
async def dev_personas(
    dev_env: WorkflowEnvironment, sqlite_store: Store
) -> AsyncIterator[PersonaClient]:
    """A persona client with a running worker, on the dev server."""
    async with persona_worker(dev_env.client, sqlite_store, "tq") as personas:
        yield personas


__all__ = ["end_lives"]  # other conftests import it from here
