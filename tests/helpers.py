"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from temporalio.client import Client
from temporalio.service import RPCError

from activities.providers import OfflineDeterministicProvider
from activities.store import Store
from clients.api import PersonaClient
from clients.cli import run_async
from personas.ids import persona_workflow_id
from personas.models import AIPersonaProfile
from runtime.settings import Settings

T = TypeVar("T")


def profile(name: str = "Ada", **overrides: Any) -> AIPersonaProfile:
    """A valid AI persona profile of entity ``acme``."""
    fields: dict[str, Any] = {
        "entity_id": "acme",
        "name": name,
        "base_persona": "llama3",
        "specialization": "python code review",
        "access_scope": ("repo:web",),
        "activation_triggers": ("shift_start", "funds_available"),
        "deactivation_triggers": ("shift_end", "funds_exhausted"),
    }
    fields.update(overrides)
    return AIPersonaProfile.model_validate(fields)


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    timeout_s: float = 30.0,
    advance: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """Poll ``probe`` until ``until`` holds (optionally advancing time between polls)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {timeout_s}s; last value: {value!r}")
        if advance is not None:
            await advance()
        else:
            await asyncio.sleep(0.05)


@dataclass
class CliContext:
    """The part of the CLI's context that subcommands use, capturing what they print."""

    personas_client: PersonaClient
    as_json: bool = False
    out: list[Any] = field(default_factory=list)

    async def personas(self) -> PersonaClient:
        """The persona client the commands use."""
        return self.personas_client

    def emit(self, data: Any, text: str) -> None:
        """Record what a command shows."""
        self.out.append((data, text))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def race(fn: Callable[[int], T], n: int, barrier_timeout_s: float) -> list[T | BaseException]:
    """``fn(0) .. fn(n - 1)`` on ``n`` threads released together; exceptions returned."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T | BaseException:
        barrier.wait(timeout=barrier_timeout_s)
        try:
            return fn(i)
        except Exception as err:
            return err

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


@dataclass
class CliResult:
    """What one in-process CLI command returned and printed."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """The output parsed as JSON."""
        return json.loads(self.out)


async def cli_output(capsys: pytest.CaptureFixture[str], settings: Settings, *argv: str) -> str:
    """What ``personas ARGV...`` run in-process with ``settings`` printed; it must succeed."""
    capsys.readouterr()
    code = await run_async(list(argv), settings=settings)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


async def end_lives(client: Client, store: Store) -> None:
    """Terminate the persona workflows of a test, so none is left waiting without a worker.

    A leftover workflow with a pending task stops the time-skipping server from skipping.
    """
    for record in store.list_personas():
        handle = client.get_workflow_handle(persona_workflow_id(record.persona_id))
        with contextlib.suppress(RPCError):
            await handle.terminate("test finished")


@contextmanager
def acme_store(path: Path, resources: list[str]) -> Iterator[Store]:
    """A migrated SQLite store at ``path`` with entity ``acme`` granting ``resources``."""
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.upsert_entity("acme", "Acme", resources)
    try:
        yield store
    finally:
        store.dispose()


@asynccontextmanager
async def persona_worker(
    client: Client, store: Store, queue_prefix: str
) -> AsyncIterator[PersonaClient]:
    """A persona client over a worker (offline provider) on a fresh task queue; every
    stored persona's life is terminated after."""
    from workers.main import build_worker  # only here: most tests that import helpers run no worker

    queue = f"{queue_prefix}-{uuid.uuid4().hex[:8]}"
    async with build_worker(client, store, OfflineDeterministicProvider(), queue):
        yield PersonaClient(client, store, queue)
        await end_lives(client, store)


@contextmanager
def fresh_postgres_database(server_url: str, name: str) -> Iterator[str]:
    """The URL of a new PostgreSQL database ``name`` on the server of ``server_url``,
    dropped (connections and all) afterwards; a refused creation raises ``DBAPIError``."""
    base = make_url(server_url)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except DBAPIError:
        admin.dispose()
        raise
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
