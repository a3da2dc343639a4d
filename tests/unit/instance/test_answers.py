"""Answers requesters need: one discriminated answer type, counter-offers, availability zones
and early refusal of names the catalog does not have."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from activities.instance.solver import ProposalSolver
from personas.instance.base import base_persona
from personas.instance.catalog import layouts
from personas.instance.negotiation import (
    Accept,
    AddConstraint,
    CounterOffer,
    InvalidAnswer,
    Modify,
    Round,
    Terms,
    check_answer,
    next_terms,
    parse_answer,
    with_replicas,
)
from personas.instance.proposals import SolveRequest
from personas.instance.requirements import (
    Config,
    Constraint,
    compile_requirements,
    hourly_cost,
    violations,
)
from tests.unit.instance.helpers import broken, shipped_catalog

PERSONA = base_persona("database")
CAT = shipped_catalog()
VOCAB = CAT.vocabulary()


def first_round() -> Round:
    result = ProposalSolver(CAT).solve(SolveRequest(persona=PERSONA, round=1))
    return Round(number=1, proposals=result.proposals, started_ms=0, deadline_ms=1)


ROUND = first_round()


def solve_terms(terms: Terms, number: int = 2) -> SolveRequest:
    return SolveRequest(
        persona=with_replicas(PERSONA, terms.replicas),
        constraints=terms.constraints,
        pins=terms.pins,
        dropped=terms.dropped,
        round=number,
        closest_hourly=terms.closest_hourly,
    )


def test_one_discriminated_answer_type_tells_the_kinds_apart() -> None:
    assert isinstance(parse_answer({"kind": "accept", "round": 1, "proposal_id": "p"}), Accept)
    assert isinstance(parse_answer({"kind": "modify", "round": 1, "changes": {}}), Modify)
    counter = parse_answer(
        {"kind": "counter_offer", "round": 1, "proposal_id": "r1-p2", "max_hourly": 1}
    )
    assert isinstance(counter, CounterOffer)
    for bad in ({"kind": "haggle", "round": 1}, {"round": 1}, "accept", None, [1]):
        with pytest.raises(InvalidAnswer, match="invalid answer"):
            parse_answer(bad)


def test_a_counter_offer_names_exactly_one_price() -> None:
    with pytest.raises(ValidationError, match="one price"):
        CounterOffer(round=1, proposal_id="r1-p1")
    with pytest.raises(ValidationError, match="one price"):
        CounterOffer(round=1, proposal_id="r1-p1", max_hourly=1, max_monthly=700)


def test_counter_offer_keeps_the_shape_and_finds_the_nearest_within_the_price() -> None:
    web = base_persona("web_server")
    first = ProposalSolver(CAT).solve(SolveRequest(persona=web, round=1))
    rnd = Round(number=1, proposals=first.proposals, started_ms=0, deadline_ms=1)
    dear = max(rnd.proposals, key=lambda p: p.hourly)
    cap = round(dear.hourly * 0.8, 4)
    answer = CounterOffer(round=1, proposal_id=dear.proposal_id, max_hourly=cap)
    check_answer(answer, "awaiting_answer", rnd, web, Terms(), VOCAB)
    terms = next_terms(answer, rnd, Terms())
    req = solve_terms(terms).model_copy(update={"persona": web})
    result = ProposalSolver(CAT).solve(req)
    offer = result.proposals[0]
    assert offer.label == "counter_offer"
    assert offer.hourly <= cap + 1e-6
    shape = ("family", "region", "storage", "raid", "tenancy", "replicas")
    assert [getattr(offer, f) for f in shape] == [getattr(dear, f) for f in shape]
    assert broken(offer, CAT, req) == []
    # no configuration of the same shape within the price is nearer the proposal's cost
    reqs = compile_requirements(req.persona, req.constraints, req.pins)
    for lay in layouts(CAT, web.performance.data_gb):
        for t in CAT.types:
            c = Config(type=t, layout=lay, dedicated=False, public_ingress=True, replicas=2)
            if not violations(c, reqs, CAT):
                assert (
                    abs(hourly_cost(c, CAT) - dear.hourly) >= abs(offer.hourly - dear.hourly) - 1e-4
                )


def test_a_counter_offer_the_proposal_already_meets_offers_the_proposal() -> None:
    answer = CounterOffer(round=1, proposal_id=ROUND.proposals[1].proposal_id, max_hourly=100)
    req = solve_terms(next_terms(answer, ROUND, Terms()))
    offer = ProposalSolver(CAT).solve(req).proposals[0]
    assert offer.label == "counter_offer"
    assert offer.instance_type == ROUND.proposals[1].instance_type
    assert offer.hourly == pytest.approx(ROUND.proposals[1].hourly, abs=1e-4)


def test_counter_offer_below_any_configuration_explains_why_none_exists() -> None:
    dear = max(ROUND.proposals, key=lambda p: p.hourly)
    answer = CounterOffer(round=1, proposal_id=dear.proposal_id, max_monthly=1.0)
    result = ProposalSolver(CAT).solve(solve_terms(next_terms(answer, ROUND, Terms())))
    assert not result.proposals
    assert result.infeasibility is not None
    assert "requester.max_monthly" in result.infeasibility.conflict


def test_spreading_over_zones_raises_replicas_and_one_zone_is_kept() -> None:
    web = base_persona("web_server")
    assert web.lifecycle.replicas == 2
    spread = (Constraint(kind="zones", value=3),)
    req = SolveRequest(persona=web, constraints=spread)
    result = ProposalSolver(CAT).solve(req)
    assert result.proposals
    assert all(p.replicas == 3 and p.zones == 3 for p in result.proposals)
    one = ProposalSolver(CAT).solve(
        SolveRequest(persona=web, constraints=(Constraint(kind="zones", value=1),))
    )
    assert all(p.replicas == 2 and p.zones == 1 for p in one.proposals)


@pytest.mark.parametrize("value", [0, 2.5, True, "three", 13])
def test_zone_counts_must_be_whole_and_in_range(value: object) -> None:
    with pytest.raises(ValidationError, match="zones needs a whole number"):
        Constraint.model_validate({"kind": "zones", "value": value})


@pytest.mark.parametrize(
    ("constraint", "valid"),
    [
        ({"kind": "region", "value": "mars-north"}, "eu-west"),
        ({"kind": "family", "value": "z9"}, "m6i"),
        ({"kind": "exclude_family", "value": "z9"}, "m6i"),
        ({"kind": "zones", "value": 6}, "at most 3 zones"),
    ],
)
def test_unknown_names_are_refused_at_once_with_the_valid_ones(
    constraint: dict[str, object], valid: str
) -> None:
    answer = AddConstraint(round=1, constraint=Constraint.model_validate(constraint))
    with pytest.raises(InvalidAnswer, match=valid) as err:
        check_answer(answer, "awaiting_answer", ROUND, PERSONA, Terms(), VOCAB)
    assert err.value.kind == "UnknownName"


def test_unknown_storage_in_a_modify_is_refused_with_the_options() -> None:
    answer = parse_answer({"kind": "modify", "round": 1, "changes": {"storage": "floppy"}})
    with pytest.raises(InvalidAnswer, match="net-ssd-gp") as err:
        check_answer(answer, "awaiting_answer", ROUND, PERSONA, Terms(), VOCAB)
    assert err.value.kind == "UnknownName"
    ok = parse_answer({"kind": "modify", "round": 1, "changes": {"storage": "net-ssd-io"}})
    check_answer(ok, "awaiting_answer", ROUND, PERSONA, Terms(), VOCAB)


@pytest.mark.parametrize(
    "raw",
    [
        {"kind": "modify", "round": 1, "changes": {"min_vcpu": float("nan")}},
        {"kind": "modify", "round": 1, "changes": {"max_hourly": float("inf")}},
        {"kind": "counter_offer", "round": 1, "proposal_id": "r1-p1", "max_hourly": -1},
        {"kind": "add_constraint", "round": 1, "constraint": {"kind": "min_vcpu", "value": 1e300}},
        {"kind": "accept", "round": True, "proposal_id": "r1-p1"},
        {"kind": "accept", "round": 1.5, "proposal_id": "r1-p1"},
        {"kind": "accept", "round": 10**30, "proposal_id": "r1-p1"},
        {"kind": "accept", "round": 1, "proposal_id": "r1-p1", "extra": 1},
        {"kind": "modify", "round": 1, "changes": {"drop": [[["deep"]]]}},
    ],
)
def test_non_finite_non_integer_and_malformed_answers_are_refused_in_one_line(
    raw: object,
) -> None:
    with pytest.raises(InvalidAnswer) as err:
        parse_answer(raw)
    assert "\n" not in str(err.value)
    assert len(str(err.value)) <= 300
