"""End to end on the dev server and the Docker engine: negotiate by signals from the Python
client, provision a real container (CPU and memory limits, no network), observe, evolve,
release; updates with validators; search attributes; a failed provisioning leaves nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import docker
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.instance.providers import LABEL, LocalDockerProvider
from activities.ownership import DEPLOYMENT
from activities.store import Store
from clients.api import PersonaError
from personas.instance.negotiation import NegotiationConfig
from tests.helpers import eventually
from tests.workflow.negotiation_support import Negotiator, negotiator_with


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    s.migrate()
    s.upsert_entity("acme", "Acme")
    yield s
    s.dispose()


@pytest.fixture
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
async def neg(
    dev_env: WorkflowEnvironment, store: Store, engine: docker.DockerClient
) -> AsyncIterator[Negotiator]:
    providers = {
        "docker": LocalDockerProvider(engine, cpu_scale=0.25, memory_scale=0.05),
        "broken": LocalDockerProvider(engine, image="persona-instance:missing"),
    }
    async with negotiator_with(dev_env.client, store, providers) as n:
        yield n


def containers(engine: docker.DockerClient, key: str) -> list[object]:
    return list(engine.containers.list(all=True, filters={"label": f"{LABEL}={key}"}))


async def test_signals_negotiate_and_a_real_container_is_provisioned_and_released(
    neg: Negotiator, engine: docker.DockerClient, store: Store, dev_env: WorkflowEnvironment
) -> None:
    config = NegotiationConfig(observe_after_s=1, divergence=0.5)
    nid = await neg.start(entity_id="acme", name="blog", text="a small blog", config=config)
    try:
        v1 = await eventually(lambda: neg.view(nid), lambda v: v.status == "awaiting_answer")
        await neg.add_constraint(nid, 1, "arch", "x86_64", wait=False)
        v2 = await eventually(
            lambda: neg.view(nid), lambda v: v.round == 2 and v.status == "awaiting_answer"
        )
        assert v1.round == 1
        chosen = v2.proposals[0]
        await neg.accept(nid, 2, chosen.proposal_id, wait=False)
        up = await eventually(lambda: neg.view(nid), lambda v: v.status == "provisioned")
        assert up.instance is not None
        [c] = containers(engine, nid)
        c.reload()  # type: ignore[attr-defined]
        host = c.attrs["HostConfig"]  # type: ignore[attr-defined]
        assert c.status == "running"  # type: ignore[attr-defined]
        assert c.labels[DEPLOYMENT]  # type: ignore[attr-defined]  # owned by one deployment
        assert host["NetworkMode"] == "none"
        assert host["NanoCpus"] == int(chosen.vcpu * 0.25 * 1e9)
        assert host["Memory"] == int(chosen.memory_gib * 0.05 * 2**30)
        listed = await eventually(
            lambda: _ids(
                dev_env,
                f"PersonaKind = 'instance' AND PersonaStatus = 'provisioned' "
                f"AND PersonaId = 'inst-{nid}'",
            ),
            lambda ids: bool(ids),
        )
        assert listed == [f"negotiation-{nid}"]
        handle = neg.client.get_workflow_handle(f"negotiation-{nid}")
        metadata = await handle.query("__temporal_workflow_metadata")
        details = metadata.current_details
        assert details.startswith("blog: provisioned")
        assert "r1: 3 proposals" in details
        assert "-> add constraint arch=x86_64" in details
        evolved = await eventually(
            lambda: neg.view(nid), lambda v: v.evolution is not None, timeout_s=60
        )
        assert evolved.evolution is not None
        assert store.get_persona(f"inst-{nid}").version == 2
        await neg.release(nid)
        final = await neg.result(nid)
        assert final.status == "released"
        assert containers(engine, nid) == []
        assert [r.answered_by for r in final.rounds] == ["requester", "requester"]
    finally:
        for c in containers(engine, nid):
            c.remove(force=True)  # type: ignore[attr-defined]


async def _ids(env: WorkflowEnvironment, query: str) -> list[str]:
    return [w.id async for w in env.client.list_workflows(query)]


async def test_updates_return_the_next_round_and_validators_refuse_bad_answers(
    neg: Negotiator,
) -> None:
    nid = await neg.start(
        entity_id="acme", name="db", base="database", config=NegotiationConfig(provision=False)
    )
    v1 = await eventually(lambda: neg.view(nid), lambda v: v.status == "awaiting_answer")
    v2 = await neg.reject(nid, 1, "want other families")
    assert v2 is not None
    assert v2.round == 2
    assert v2.status == "awaiting_answer"
    with pytest.raises(PersonaError, match="round 1 is stale: the current round is 2"):
        await neg.modify(nid, 1, v1.proposals[0].proposal_id, {"tenancy": "dedicated"})
    with pytest.raises(PersonaError, match="unknown proposal 'r2-p9'"):
        await neg.accept(nid, 2, "r2-p9")
    with pytest.raises(PersonaError, match="cannot be dropped"):
        await neg.modify(nid, 2, None, {"drop": ["capacity.vcpu"]})
    v3 = await neg.modify(nid, 2, v2.proposals[0].proposal_id, {"region": "eu-west"})
    assert v3 is not None
    assert v3.round == 3
    assert {p.region for p in v3.proposals} == {"eu-west"}
    with pytest.raises(PersonaError, match=r"invalid change: .*different regions"):
        await neg.add_constraint(nid, 3, "region", "us-east")
    done = await neg.accept(nid, 3, v3.proposals[0].proposal_id)
    assert done is not None
    assert done.status == "agreed"
    with pytest.raises(PersonaError, match=r"has ended \(agreed\)"):
        await neg.accept(nid, 3, v3.proposals[0].proposal_id)


async def test_failed_provisioning_ends_clearly_and_leaves_no_container(
    neg: Negotiator, engine: docker.DockerClient
) -> None:
    nid = await neg.start(entity_id="acme", name="q", base="message_queue", provider="broken")
    v1 = await eventually(lambda: neg.view(nid), lambda v: v.status == "awaiting_answer")
    final = await neg.accept(nid, 1, v1.proposals[0].proposal_id)
    assert final is not None
    result = await neg.result(nid)
    assert result.status == "provision_failed"
    assert "nothing left running" in result.reason
    assert containers(engine, nid) == []
