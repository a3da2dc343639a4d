"""Support for negotiation tests: a recording fake provider and a worker fixture factory."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.instance import instance_activities, instance_workflows
from activities.instance.providers import ProvisionFailed
from activities.store import Store
from clients.instance_api import InstanceClient
from personas.instance.evolution import Utilisation
from personas.instance.instances import ProvisionedInstance
from personas.instance.proposals import Proposal
from workflows.negotiation import negotiation_workflow_id


@dataclass
class FakeProvider:
    """A provider that records what it runs; it can fail half-way through and use a level."""

    name: str = "fake"
    fail_after: int | None = None
    used: Utilisation = field(
        default_factory=lambda: Utilisation(cpu_cores=0.0, memory_gib=0.0, samples=1)
    )
    running: dict[str, list[str]] = field(default_factory=dict)
    provisioned: int = 0

    def provision(self, key: str, proposal: Proposal) -> ProvisionedInstance:
        """Start replicas; with ``fail_after`` set, fail after that many and clean up."""
        handles = self.running.setdefault(key, [])
        try:
            for i in range(len(handles), proposal.replicas):
                if self.fail_after is not None and i >= self.fail_after:
                    raise RuntimeError(f"replica {i} did not start")
                handles.append(f"{key}-{i}")
        except RuntimeError as err:
            self.deprovision(key)
            raise ProvisionFailed(str(err)) from err
        self.provisioned += 1
        return ProvisionedInstance(
            key=key,
            provider=self.name,
            handles=tuple(handles),
            nano_cpus=proposal.vcpu * 10**9,
            memory_bytes=int(proposal.memory_gib * 2**30),
            network="none",
        )

    def deprovision(self, key: str) -> int:
        """Forget the key's replicas."""
        return len(self.running.pop(key, []))

    def observe(self, key: str) -> Utilisation:
        """The configured use."""
        return self.used


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


def negotiator(client: Client, store: Store, provider: FakeProvider) -> Any:
    """A worker with the fake provider, and a client on its queue."""
    return negotiator_with(client, store, {"fake": provider})


@contextlib.asynccontextmanager
async def negotiator_with(
    client: Client, store: Store, providers: dict[str, Any]
) -> AsyncIterator[Negotiator]:
    """A worker for the instance workflows and activities, and a client on its queue."""
    queue = f"neg-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        client,
        task_queue=queue,
        workflows=instance_workflows(),
        activities=instance_activities(store, providers=providers),
        activity_executor=ThreadPoolExecutor(max_workers=8),
    )
    async with worker:
        n = Negotiator(client, store, queue)
        n.started = []
        try:
            yield n
        finally:
            await end_negotiations(client, n.started)
