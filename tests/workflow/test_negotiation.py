"""Negotiations under the time-skipping server: rounds, expiry, rejection, modification,
infeasibility, automation, provisioning failure, evolution and bad answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.store import Store
from clients.api import PersonaError
from personas import messages
from personas.instance.negotiation import NegotiationConfig
from personas.instance.requirements import base_type
from personas.instance.views import NegotiationView
from tests.helpers import eventually
from tests.workflow.negotiation_support import DockerProvider, Negotiator, negotiator

FAST = NegotiationConfig(round_timeout_s=3600, observe_after_s=60, lifetime_s=3600)


@pytest.fixture
def provider() -> DockerProvider:
    return DockerProvider()


@pytest.fixture
async def neg(
    time_env: WorkflowEnvironment, sqlite_store: Store, provider: DockerProvider
) -> AsyncIterator[Negotiator]:
    async with negotiator(time_env.client, sqlite_store, provider) as n:
        yield n


async def awaiting(neg: Negotiator, nid: str, round: int) -> NegotiationView:
    return await eventually(
        lambda: neg.view(nid),
        lambda v: (v.round == round and v.status == "awaiting_answer") or v.status in ("failed",),
    )


def start_fields(**extra: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "entity_id": "acme",
        "name": "shop",
        "provider": "docker",
        "text": "run a medium-sized e-commerce website",
        "config": FAST,
    }
    fields.update(extra)
    return fields


async def test_many_rounds_then_agreement_provisioning_and_release(
    neg: Negotiator, provider: DockerProvider, sqlite_store: Store
) -> None:
    nid = await neg.start(**start_fields(base="web_server"))
    v1 = await awaiting(neg, nid, 1)
    assert [p.label for p in v1.proposals] == ["cheapest", "balanced", "price_performance"]
    assert v1.heldout_mape_pct is not None
    await neg.reject(nid, 1, "too small", wait=False)
    v2 = await awaiting(neg, nid, 2)
    first_types = {base_type(p.instance_type) for p in v1.proposals}
    assert not first_types & {base_type(p.instance_type) for p in v2.proposals}
    await neg.add_constraint(nid, 2, "region", "eu-west", wait=False)
    v3 = await awaiting(neg, nid, 3)
    assert {p.region for p in v3.proposals} == {"eu-west"}
    chosen = next(p for p in v3.proposals if not p.instance_type.startswith("t"))  # burstable
    await neg.modify(nid, 3, chosen.proposal_id, {"tenancy": "dedicated"}, wait=False)
    v4 = await awaiting(neg, nid, 4)
    assert v4.proposals, (v4.rounds[-1].infeasibility, v4.terms, chosen)
    assert v4.proposals[0].instance_type == chosen.instance_type
    assert v4.proposals[0].tenancy == "dedicated"
    await neg.accept(nid, 4, v4.proposals[0].proposal_id, wait=False)
    provisioned = await eventually(lambda: neg.view(nid), lambda v: v.status == "provisioned")
    assert provisioned.agreed == v4.proposals[0]
    assert provisioned.instance is not None
    assert provider.running(nid) == v4.proposals[0].replicas
    await neg.release(nid)
    final = await neg.result(nid)
    assert final.status == "released"
    assert provider.running(nid) == 0
    assert [r.answered_by for r in final.rounds] == ["requester"] * 4
    assert final.rounds[0].answer == "reject: too small"
    details = sqlite_store.get_content(final.rounds[2].details_ref or "")
    assert details.data is not None
    assert "requester.region.eu-west" in details.data["requirements"]
    record = sqlite_store.get_persona(f"inst-{nid}")
    assert (record.kind, record.usage_count) == ("instance", 1)


async def test_a_round_without_answer_expires_and_later_answers_are_refused(
    neg: Negotiator, time_env: WorkflowEnvironment
) -> None:
    nid = await neg.start(**start_fields(config=NegotiationConfig(round_timeout_s=120)))
    v1 = await awaiting(neg, nid, 1)
    await time_env.sleep(60)
    assert (await neg.view(nid)).status == "awaiting_answer"
    await time_env.sleep(61)
    final = await neg.result(nid)
    assert final.status == "expired"
    assert final.rounds[-1].answered_by == "deadline"
    with pytest.raises(PersonaError, match=r"has ended \(expired\)"):
        await neg.accept(nid, 1, v1.proposals[0].proposal_id, wait=False)


async def test_final_rejection_and_the_round_limit(neg: Negotiator) -> None:
    nid = await neg.start(**start_fields())
    await awaiting(neg, nid, 1)
    await neg.reject(nid, 1, "not today", final=True, wait=False)
    assert (await neg.result(nid)).status == "rejected"
    limited = await neg.start(**start_fields(name="shop2", config=NegotiationConfig(max_rounds=2)))
    await awaiting(neg, limited, 1)
    await neg.reject(limited, 1, "no", wait=False)
    await awaiting(neg, limited, 2)
    await neg.reject(limited, 2, "still no", wait=False)
    final = await neg.result(limited)
    assert final.status == "rejected"
    assert "round limit (2)" in final.reason
    assert len(final.rounds) == 2


async def test_infeasible_round_explains_and_a_modify_drops_the_conflict(neg: Negotiator) -> None:
    nid = await neg.start(
        **start_fields(
            base="database", text=None, constraints=[{"kind": "max_hourly", "value": 0.05}]
        )
    )
    v1 = await awaiting(neg, nid, 1)
    assert v1.proposals == ()
    infeasible = v1.rounds[0].infeasibility
    assert infeasible is not None
    assert "requester.max_hourly" in infeasible.conflict
    await neg.modify(nid, 1, None, {"drop": ["requester.max_hourly"]}, wait=False)
    v2 = await awaiting(neg, nid, 2)
    assert len(v2.proposals) == 3
    await neg.accept(nid, 2, v2.proposals[0].proposal_id, wait=False)
    await eventually(lambda: neg.view(nid), lambda v: v.status == "provisioned")


async def test_automated_negotiation_reaches_agreement_without_a_person(neg: Negotiator) -> None:
    policy = {
        "prefer": "balanced",
        "max_hourly": 2.0,
        "constraints": [{"kind": "region", "value": "eu-west"}],
    }
    nid = await neg.start(
        **start_fields(
            base="database", text=None, policy=policy, config=NegotiationConfig(provision=False)
        )
    )
    final = await neg.result(nid)
    assert final.status == "agreed"
    assert {r.answered_by for r in final.rounds} == {"policy"}
    assert final.agreed is not None
    assert final.agreed.region == "eu-west"
    assert final.agreed.label == "balanced"
    assert final.agreed.hourly <= 2.0
    assert len(final.rounds) == 3


async def test_automated_negotiation_gives_up_when_nothing_fits_the_budget(neg: Negotiator) -> None:
    nid = await neg.start(
        **start_fields(base="analytics_engine", text=None, policy={"max_hourly": 0.2})
    )
    final = await neg.result(nid)
    assert final.status == "rejected"
    assert "nothing feasible" in final.reason


async def test_bad_answers_by_signal_are_recorded_and_ignored(neg: Negotiator) -> None:
    nid = await neg.start(**start_fields())
    await awaiting(neg, nid, 1)
    handle = neg.client.get_workflow_handle(f"negotiation-{nid}")
    await handle.signal(messages.ANSWER, {"kind": "accept", "round": 1, "proposal_id": "r9-p1"})
    await handle.signal(messages.ANSWER, {"kind": "modify", "round": 0, "changes": {}})
    await handle.signal(
        messages.ANSWER,
        {"kind": "add_constraint", "round": 1, "constraint": {"kind": "min_vcpu", "value": -2}},
    )
    await handle.signal(messages.ANSWER, "garbage")
    v = await eventually(lambda: neg.view(nid), lambda v: len(v.invalid_answers) == 4)
    assert v.status == "awaiting_answer"
    assert v.round == 1
    assert "unknown proposal 'r9-p1'" in v.invalid_answers[0]
    await neg.reject(nid, 1, "fine", wait=False)
    v2 = await awaiting(neg, nid, 2)
    await neg.modify(nid, 1, v2.proposals[0].proposal_id, {}, wait=False)
    stale = await eventually(lambda: neg.view(nid), lambda v: len(v.invalid_answers) == 5)
    assert "round 1 is stale" in stale.invalid_answers[-1]
    assert stale.status == "awaiting_answer"


async def test_bad_input_is_refused_before_a_workflow_starts(neg: Negotiator) -> None:
    with pytest.raises(PersonaError, match="unknown base persona 'mainframe'"):
        await neg.start(**start_fields(base="mainframe"))
    with pytest.raises(PersonaError, match="cannot read a workload"):
        await neg.start(**start_fields(text="make it nice"))
    with pytest.raises(PersonaError, match="greater than or equal to 0"):
        await neg.start(**start_fields(text=None, workload={"requests_per_s": -5}))
    with pytest.raises(PersonaError, match="different regions"):
        await neg.start(
            **start_fields(
                constraints=[
                    {"kind": "region", "value": "eu-west"},
                    {"kind": "region", "value": "us-east"},
                ]
            )
        )
    with pytest.raises(PersonaError, match="unknown entity"):
        await neg.start(**start_fields(entity_id="nobody"))
    assert neg.started == []


async def test_unknown_base_persona_reaching_the_workflow_ends_it_as_failed(
    neg: Negotiator, time_env: WorkflowEnvironment
) -> None:
    from personas.instance.negotiation import NegotiationInput
    from workflows.negotiation import InstanceNegotiation

    data = NegotiationInput.model_validate(start_fields(negotiation_id="raw1", base="mainframe"))
    neg.started.append("raw1")
    handle = await time_env.client.start_workflow(
        InstanceNegotiation.run, data, id="negotiation-raw1", task_queue=neg.task_queue
    )
    final = await handle.result()
    assert final.status == "failed"
    assert "unknown base persona 'mainframe'" in final.reason


async def test_provisioning_failure_leaves_nothing_behind(
    neg: Negotiator, provider: DockerProvider
) -> None:
    provider.fail_after = 1
    nid = await neg.start(**start_fields(base="web_server"))
    v1 = await awaiting(neg, nid, 1)
    assert v1.proposals[0].replicas == 2
    await neg.accept(nid, 1, v1.proposals[0].proposal_id, wait=False)
    final = await neg.result(nid)
    assert final.status == "provision_failed"
    assert "nothing left running" in final.reason
    assert final.instance is None
    assert provider.running(nid) == 0


async def test_divergent_use_proposes_a_new_persona_version(
    neg: Negotiator, provider: DockerProvider, sqlite_store: Store, time_env: WorkflowEnvironment
) -> None:
    # The instance is a container that sleeps: far less used than predicted.
    nid = await neg.start(**start_fields(config=FAST))
    v1 = await awaiting(neg, nid, 1)
    await neg.accept(nid, 1, v1.proposals[0].proposal_id, wait=False)
    await eventually(lambda: neg.view(nid), lambda v: v.status == "provisioned")
    await time_env.sleep(FAST.observe_after_s + 1)
    observed = await eventually(lambda: neg.view(nid), lambda v: v.evolution is not None)
    assert observed.status == "provisioned"
    await time_env.sleep(FAST.lifetime_s or 0)
    final = await neg.result(nid)
    assert final.status == "released"
    assert final.evolution is not None
    assert final.evolution.version == 2
    versions = sqlite_store.persona_versions(f"inst-{nid}")
    assert [v.created_by for v in versions] == ["requester", "evolution"]
    assert versions[1].body["persona"]["status"] == "proposed"
    assert final.evolution.ratios["cpu_cores"] < 0.5
