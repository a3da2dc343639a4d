"""A worker with the persona and funding workflows and activities, and fault injection."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.funding.db import Database
from activities.funding.keys import IssuedKey
from activities.funding.service import Funding
from activities.providers import OfflineDeterministicProvider
from activities.store import Store
from clients.api import PersonaClient
from tests.workflow.conftest import end_lives
from workers import registry


@dataclass
class Faults:
    """Fail each (step, key) once when ``steps`` names the step; counts the injections."""

    steps: set[str] = field(default_factory=set)
    seen: set[tuple[str, str]] = field(default_factory=set)
    injected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, step: str, key: str) -> None:
        """Raise the first time ``(step, key)`` is seen."""
        with self.lock:
            if step not in self.steps or (step, key) in self.seen:
                return
            self.seen.add((step, key))
            self.injected += 1
        raise RuntimeError(f"injected failure at {step} for {key}")


@dataclass
class FundingHarness:
    """What a funding workflow test uses."""

    client: Client
    queue: str
    store: Store
    personas: PersonaClient
    funding: Funding
    faults: Faults
    keys: list[IssuedKey]
    started: list[str] = field(default_factory=list)


def funding_worker(
    client: Client, store: Store, queue: str, faults: Faults, keys: list[IssuedKey]
) -> Worker:
    """A worker like ``workers.main.build_worker`` plus the funding lists."""
    registered = registry.life(
        store, OfflineDeterministicProvider(), client, queue
    ) + registry.funding(store, client, faults=faults, key_sink=keys.append)
    return Worker(
        client,
        task_queue=queue,
        **registered.worker_options(),
        activity_executor=ThreadPoolExecutor(max_workers=16),
    )


async def harness(client: Client, store: Store) -> AsyncIterator[FundingHarness]:
    """Run a worker for the test; terminate every workflow it started at the end."""
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    faults = Faults()
    keys: list[IssuedKey] = []
    db = Database(store.url)
    async with funding_worker(client, store, queue, faults, keys):
        h = FundingHarness(
            client, queue, store, PersonaClient(client, store, queue), Funding(db), faults, keys
        )
        yield h
        for workflow_id in h.started:
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(workflow_id).terminate("test finished")
        await end_lives(client, store)
    db.dispose()
