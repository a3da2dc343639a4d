"""Answer validation, next-round terms, the automated policy, evolution and the cloud adapter."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from activities.instance.providers import CloudProvider, ProvisionFailed
from personas.instance.base import base_persona
from personas.instance.evolution import Utilisation, diverges, evolve, ratios
from personas.instance.negotiation import (
    Accept,
    AddConstraint,
    AutoPolicy,
    Changes,
    InvalidAnswer,
    Modify,
    Reject,
    Round,
    Terms,
    check_answer,
    decide,
    next_terms,
)
from personas.instance.proposals import Proposal, SolveRequest
from personas.instance.requirements import Constraint
from tests.unit.instance.helpers import shipped_catalog

PERSONA = base_persona("database")


def a_round(number: int = 2) -> Round:
    from activities.instance.solver import ProposalSolver

    result = ProposalSolver(shipped_catalog()).solve(SolveRequest(persona=PERSONA, round=number))
    return Round(number=number, proposals=result.proposals, started_ms=0, deadline_ms=1)


ROUND = a_round()


@pytest.mark.parametrize(
    ("answer", "status", "kind"),
    [
        (Accept(round=1, proposal_id="r1-p1"), "awaiting_answer", "StaleRound"),
        (Accept(round=2, proposal_id="r1-p1"), "awaiting_answer", "UnknownProposal"),
        (
            Modify(round=2, proposal_id="r9-p1", changes=Changes()),
            "awaiting_answer",
            "UnknownProposal",
        ),
        (Accept(round=2, proposal_id="r2-p1"), "expired", "NegotiationClosed"),
        (Accept(round=2, proposal_id="r2-p1"), "solving", "NotAwaiting"),
        (
            AddConstraint(round=2, constraint=Constraint(kind="tenancy", value="shared")),
            "awaiting_answer",
            None,
        ),
    ],
)
def test_answers_are_checked_against_the_current_round(
    answer: Any, status: str, kind: str | None
) -> None:
    if kind is None:
        check_answer(answer, status, ROUND, PERSONA, Terms())
        return
    with pytest.raises(InvalidAnswer) as info:
        check_answer(answer, status, ROUND, PERSONA, Terms())
    assert info.value.kind == kind


def test_a_contradictory_change_is_an_invalid_change() -> None:
    terms = Terms(constraints=(Constraint(kind="region", value="eu-west"),))
    answer = AddConstraint(round=2, constraint=Constraint(kind="family", value="m5"))
    check_answer(answer, "awaiting_answer", ROUND, PERSONA, terms)
    terms = Terms(constraints=(Constraint(kind="exclude_family", value="m5"),))
    with pytest.raises(InvalidAnswer, match="invalid change") as info:
        check_answer(answer, "awaiting_answer", ROUND, PERSONA, terms)
    assert info.value.kind == "InvalidChange"


def test_only_requester_pins_and_cost_can_be_dropped() -> None:
    with pytest.raises(ValidationError, match="cannot be dropped"):
        Changes(drop=("compliance.hipaa.encryption_at_rest",))
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        Changes(replicas=0)


def test_reject_excludes_the_rounds_types_and_modify_pins_the_proposal() -> None:
    after_reject = next_terms(Reject(round=2, reason="no"), ROUND, Terms())
    excluded = {c.value for c in after_reject.constraints if c.kind == "exclude_type"}
    assert excluded == {p.instance_type.split("@")[0] for p in ROUND.proposals}
    p = ROUND.proposals[0]
    pinned = next_terms(
        Modify(round=2, proposal_id=p.proposal_id, changes=Changes(raid="raid10")), ROUND, Terms()
    )
    assert (pinned.pins.instance_type, pinned.pins.storage, pinned.pins.raid) == (
        p.instance_type,
        p.storage,
        "raid10",
    )
    resized = next_terms(
        Modify(round=2, proposal_id=p.proposal_id, changes=Changes(min_vcpu=32)), ROUND, Terms()
    )
    assert resized.pins.instance_type is None
    assert Constraint(kind="min_vcpu", value=32) in resized.constraints
    dropped = next_terms(
        Modify(round=2, changes=Changes(drop=("requester.min_vcpu",))), ROUND, resized
    )
    assert all(c.kind != "min_vcpu" for c in dropped.constraints)


def test_policy_adds_its_constraints_then_accepts_within_budget() -> None:
    policy = AutoPolicy(
        prefer="balanced", max_hourly=5.0, constraints=(Constraint(kind="region", value="eu-west"),)
    )
    first = decide(policy, ROUND.model_copy(update={"number": 1}), is_last=False)
    assert first == AddConstraint(round=1, constraint=Constraint(kind="region", value="eu-west"))
    second = decide(policy, ROUND, is_last=False)
    assert isinstance(second, AddConstraint)
    assert second.constraint.kind == "max_hourly"
    third = decide(policy, ROUND.model_copy(update={"number": 3}), is_last=False)
    assert third == Accept(round=3, proposal_id="r2-p2")
    poor = AutoPolicy(max_hourly=0.01)
    late = ROUND.model_copy(update={"number": 3})
    assert decide(poor, late, is_last=False) == Reject(round=3, reason="over the policy's budget")
    assert decide(poor, late, is_last=True).final  # type: ignore[union-attr]


def test_use_far_from_the_prediction_evolves_the_persona() -> None:
    cpu = PERSONA.performance.cpu_cores.average
    memory = PERSONA.performance.memory_gib.average
    matched = Utilisation(cpu_cores=cpu * 1.1, memory_gib=memory * 0.95, samples=3)
    assert not diverges(PERSONA, matched, 0.3)
    busy = Utilisation(cpu_cores=cpu * 2, memory_gib=memory, samples=3)
    assert diverges(PERSONA, busy, 0.3)
    assert ratios(PERSONA, busy)["cpu_cores"] == pytest.approx(2.0, rel=1e-3)
    evolved = evolve(PERSONA, busy)
    assert evolved.status == "proposed"
    assert evolved.performance.cpu_cores.peak == pytest.approx(
        2 * PERSONA.performance.cpu_cores.peak, rel=1e-3
    )


class FakeCloud:
    """A cloud API double: launches ``launch`` instances whatever is asked."""

    def __init__(self, launch: int) -> None:
        self.launch = launch
        self.live: dict[str, list[str]] = {}
        self.requests: list[dict[str, Any]] = []

    def run_instances(self, request: dict[str, Any]) -> list[str]:
        self.requests.append(request)
        key = request["ClientToken"]
        self.live[key] = [f"i-{key}-{i}" for i in range(self.launch)]
        return self.live[key]

    def find_instances(self, tag_key: str, tag_value: str) -> list[str]:
        return list(self.live.get(tag_value, []))

    def terminate_instances(self, ids: list[str]) -> None:
        self.live = {k: [i for i in v if i not in ids] for k, v in self.live.items()}

    def utilisation(self, ids: list[str]) -> tuple[float, float]:
        return (0.5 * len(ids), 1.0 * len(ids))


def _proposal(replicas: int) -> Proposal:
    return ROUND.proposals[0].model_copy(update={"replicas": replicas, "tenancy": "dedicated"})


def test_cloud_adapter_maps_the_proposal_and_is_idempotent() -> None:
    api = FakeCloud(launch=2)
    cloud = CloudProvider(api, subnet="subnet-1", security_group="sg-1")
    p = _proposal(2)
    request = cloud.request_for("k1", p)
    assert request["InstanceType"] == p.instance_type.split("@")[0]
    assert request["Placement"] == {"Region": p.region, "Tenancy": "dedicated"}
    assert request["BlockDeviceMappings"][0]["Encrypted"] is True
    first = cloud.provision("k1", p)
    again = cloud.provision("k1", p)
    assert first.handles == again.handles
    assert len(api.requests) == 1
    assert cloud.observe("k1").cpu_cores == 1.0
    assert cloud.deprovision("k1") == 2
    assert api.live["k1"] == []


def test_cloud_adapter_terminates_a_partial_launch() -> None:
    api = FakeCloud(launch=1)
    cloud = CloudProvider(api, subnet="subnet-1", security_group="sg-1")
    with pytest.raises(ProvisionFailed, match="1 of 3 instances launched"):
        cloud.provision("k2", _proposal(3))
    assert api.live["k2"] == []
