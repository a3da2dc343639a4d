"""Instances left on a host (real Docker engine, dev server): a host's reconciliation removes
the instances whose negotiation is not running, keeps a running negotiation's, and never
touches another host's or another deployment's containers on the same engine."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

import docker
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.instance.providers import LocalDockerProvider
from activities.instance.reconcile import reconcile_instances, reconcile_instances_every
from personas.ids import negotiation_workflow_id
from personas.instance.proposals import Proposal
from tests.helpers import eventually

PROPOSAL = Proposal(
    proposal_id="p1",
    label="cheapest",
    instance_type="t3.micro",
    region="local",
    vcpu=1,
    memory_gib=0.5,
    network_gbps=1,
    storage="ebs",
    raid="none",
    storage_gb=8,
    iops=3000,
    tenancy="shared",
    public_ingress=False,
    replicas=1,
    hourly=0.01,
    monthly=7.3,
    headroom_pct={},
    trade_off="test",
)


@pytest.fixture
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


def provider(engine: docker.DockerClient, deployment: str, host: str) -> LocalDockerProvider:
    return LocalDockerProvider(
        engine, cpu_scale=0.1, memory_scale=0.05, deployment=deployment, host_id=host
    )


async def test_a_host_removes_the_instances_no_running_negotiation_holds(
    dev_env: WorkflowEnvironment, engine: docker.DockerClient
) -> None:
    deployment = f"inst-rec-{uuid.uuid4().hex[:8]}"
    here, there = provider(engine, deployment, "h1"), provider(engine, deployment, "h2")
    stranger = provider(engine, f"{deployment}-other", "h1")
    dead, live, elsewhere, foreign = (f"{n}-{deployment}" for n in ("dead", "live", "there", "x"))
    for owner, key in ((here, dead), (here, live), (there, elsewhere), (stranger, foreign)):
        owner.provision(key, PROPOSAL)
    # A negotiation that is still running (no worker polls its queue: it stays running).
    running = await dev_env.client.start_workflow(
        "InstanceNegotiation",
        id=negotiation_workflow_id(live),
        task_queue=f"nobody-{deployment}",
    )
    try:
        assert here.held_keys() == {dead, live}
        assert await reconcile_instances(dev_env.client, here) == [dead]
        assert here.held_keys() == {live}
        assert there.held_keys() == {elsewhere}
        assert stranger.held_keys() == {foreign}
        await running.terminate("negotiation over")
        assert await reconcile_instances(dev_env.client, here) == [live]
        assert here.held_keys() == set()
    finally:
        with contextlib.suppress(Exception):
            await running.terminate("test over")
        for owner, key in ((here, dead), (here, live), (there, elsewhere), (stranger, foreign)):
            owner.deprovision(key)


class CountedLists(LocalDockerProvider):
    """The real provider, counting its listings (so the test knows a pass has looked)."""

    lists = 0

    def held_keys(self) -> set[str]:
        keys = super().held_keys()
        self.lists += 1
        return keys


async def test_a_host_keeps_reconciling_what_is_left_after_it_started(
    dev_env: WorkflowEnvironment, engine: docker.DockerClient
) -> None:
    deployment = f"inst-per-{uuid.uuid4().hex[:8]}"
    here = CountedLists(
        engine, cpu_scale=0.1, memory_scale=0.05, deployment=deployment, host_id="h1"
    )
    passes = asyncio.create_task(reconcile_instances_every(dev_env.client, here, 0.2))
    key = f"late-{deployment}"
    try:
        await eventually(lambda: asyncio.sleep(0, here.lists), lambda n: n > 0, 60)
        # The first pass has listed this host's instances: this one comes after it.
        await asyncio.to_thread(here.provision, key, PROPOSAL)
        await eventually(lambda: asyncio.to_thread(here.held_keys), lambda keys: not keys, 60)
        assert not passes.done()  # it keeps going
    finally:
        passes.cancel()
        with contextlib.suppress(Exception):
            here.deprovision(key)
