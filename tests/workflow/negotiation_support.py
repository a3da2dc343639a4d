"""Support for negotiation tests: Docker with injected faults, and a worker fixture factory."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker.errors
from temporalio.client import Client
from temporalio.service import RPCError

from activities.instance.providers import LocalDockerProvider
from activities.store import Store
from clients.instance_api import InstanceClient
from personas.ids import negotiation_workflow_id
from workers import registry


class _FailingContainers:
    """Docker's container collection, except that creating one fails past a budget."""

    def __init__(self, provider: DockerProvider, real: Any) -> None:
        self.provider = provider
        self.real = real

    def create(self, *args: Any, **kwargs: Any) -> Any:
        """Create a container, or fail as Docker does once the budget is spent."""
        if (
            self.provider.fail_after is not None
            and self.provider.created >= self.provider.fail_after
        ):
            raise docker.errors.APIError("injected failure: the container did not start")
        self.provider.created += 1
        return self.real.create(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class _FailingClient:
    """A Docker client whose container creation can be made to fail."""

    def __init__(self, provider: DockerProvider, real: Any) -> None:
        self.real = real
        self.containers = _FailingContainers(provider, real.containers)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class DockerProvider(LocalDockerProvider):
    """The real local Docker provider at small limits, with faults injected into Docker:
    with ``fail_after`` set, creating containers fails after that many."""

    def __init__(self, fail_after: int | None = None) -> None:
        super().__init__(cpu_scale=0.05, memory_scale=0.02)
        self.fail_after = fail_after
        self.created = 0

    @property
    def client(self) -> Any:
        """The real client, wrapped so container creation can fail on purpose."""
        return _FailingClient(self, super().client)

    def running(self, key: str) -> int:
        """How many containers of ``key`` exist in Docker."""
        return len(self._containers(key))


async def end_negotiations(client: Client, ids: list[str]) -> None:
    """Terminate negotiations a test left running (the time-skipping server needs it)."""
    for nid in ids:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(negotiation_workflow_id(nid)).terminate("test over")


class Negotiator(InstanceClient):
    """An instance client that remembers what it started, for teardown."""

    started: list[str]

    async def start(self, **fields: object) -> str:
        """Start and remember."""
        nid = await super().start(**fields)
        self.started.append(nid)
        return nid


def negotiator(client: Client, store: Store, provider: DockerProvider) -> Any:
    """A worker with the given Docker provider, and a client on its queue."""
    return negotiator_with(client, store, {"docker": provider})


@contextlib.asynccontextmanager
async def negotiator_with(
    client: Client, store: Store, providers: dict[str, Any]
) -> AsyncIterator[Negotiator]:
    """A worker for the instance workflows and activities, and a client on its queue."""
    queue = f"neg-{uuid.uuid4().hex[:8]}"
    worker = registry.Workers(
        client,
        queue,
        registry.instance(store, providers=providers),
        activity_executor=ThreadPoolExecutor(max_workers=8),
    )
    async with worker:
        n = Negotiator(client, store, queue)
        n.started = []
        try:
            yield n
        finally:
            await end_negotiations(client, n.started)
            for provider in providers.values():
                for nid in n.started:
                    provider.deprovision(nid)
