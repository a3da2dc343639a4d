"""The CP-SAT solver: distinct proposals, exact cheapest, pins, determinism, infeasibility."""

from __future__ import annotations

import pytest

from activities.instance.solver import ProposalSolver
from personas.instance.base import base_persona
from personas.instance.profiles import InstancePersona
from personas.instance.proposals import SolveRequest
from personas.instance.requirements import Constraint, Pins, base_type
from tests.reference.enumeration import cheapest_feasible
from tests.unit.instance.helpers import broken, shipped_catalog, small_catalog
from tests.unit.instance.test_requirements import with_compliance

ROLES = ["web_server", "database", "analytics_engine", "message_queue"]


def public_pci_database() -> InstancePersona:
    """A PCI database open to the internet: PCI DSS v4.0 Req. 1.4.4 forbids it."""
    data = with_compliance("database", "pci_dss").model_dump()
    data["security"]["ingress"] = ["0.0.0.0/0"]
    return InstancePersona.model_validate(data)


@pytest.mark.parametrize("role", ROLES)
def test_three_distinct_proposals_meeting_every_hard_constraint(role: str) -> None:
    cat = shipped_catalog()
    req = SolveRequest(persona=base_persona(role))
    result = ProposalSolver(cat).solve(req)
    labels = [p.label for p in result.proposals]
    assert labels == ["cheapest", "balanced", "price_performance"]
    assert len({base_type(p.instance_type) for p in result.proposals}) == 3
    for p in result.proposals:
        assert broken(p, cat, req) == [], p
        assert p.trade_off
        assert p.hourly > 0
        assert p.monthly == pytest.approx(p.hourly * 730, abs=0.05)
    assert result.proposals[0].hourly == min(p.hourly for p in result.proposals)


@pytest.mark.parametrize("role", ROLES)
def test_cheapest_proposal_is_the_true_cheapest(role: str) -> None:
    cat = small_catalog()
    req = SolveRequest(persona=base_persona(role), k=1)
    truth = cheapest_feasible(cat, req)
    assert truth is not None
    assert ProposalSolver(cat).solve(req).proposals[0].hourly == pytest.approx(truth[0], abs=1e-4)


def test_a_retry_returns_the_same_answer() -> None:
    req = SolveRequest(
        persona=base_persona("database"), constraints=(Constraint(kind="region", value="eu-west"),)
    )
    first = ProposalSolver(shipped_catalog()).solve(req)
    second = ProposalSolver(shipped_catalog()).solve(req)
    assert first.proposals == second.proposals


def test_pins_and_constraints_are_honoured() -> None:
    cat = shipped_catalog()
    req = SolveRequest(
        persona=base_persona("database"),
        constraints=(
            Constraint(kind="region", value="ap-south"),
            Constraint(kind="arch", value="x86_64"),
        ),
        pins=Pins(storage="net-ssd-io", raid="raid10", tenancy="dedicated"),
    )
    result = ProposalSolver(cat).solve(req)
    assert result.proposals
    for p in result.proposals:
        assert (p.region, p.storage, p.raid, p.tenancy) == (
            "ap-south",
            "net-ssd-io",
            "raid10",
            "dedicated",
        )
        assert broken(p, cat, req) == []


def test_compliance_changes_the_choice() -> None:
    cat = shipped_catalog()
    req = SolveRequest(persona=with_compliance("database", "pci_dss"))
    result = ProposalSolver(cat).solve(req)
    for p in result.proposals:
        t = cat.type_named(p.instance_type)
        assert t is not None
        assert t.encryption_in_transit
        assert t.encryption_at_rest
        assert p.tenancy == "shared"  # PCI DSS does not require dedicated hardware
        assert not p.public_ingress  # Req. 1.4.4: a data store stays off the internet


def test_infeasible_request_names_a_minimal_conflict_and_prices_relaxations() -> None:
    req = SolveRequest(persona=public_pci_database())
    result = ProposalSolver(shipped_catalog()).solve(req)
    assert result.proposals == ()
    assert result.infeasibility is not None
    assert set(result.infeasibility.conflict) == {
        "compliance.pci_dss.data_store_not_public",
        "security.public_ingress",
    }
    for relax in result.infeasibility.relaxations:
        assert relax.cheapest_hourly is not None
        assert relax.cheapest_hourly > 0
    assert "PCI DSS v4.0 Req. 1.4.4" in result.infeasibility.message


def test_budget_conflict_is_explained_with_its_price() -> None:
    req = SolveRequest(
        persona=base_persona("analytics_engine"),
        constraints=(Constraint(kind="max_hourly", value=0.5),),
    )
    result = ProposalSolver(shipped_catalog()).solve(req)
    assert result.infeasibility is not None
    conflict = result.infeasibility.conflict
    assert "requester.max_hourly" in conflict
    assert any(n.startswith("capacity.") for n in conflict)
    prices = {r.requirement: r.cheapest_hourly for r in result.infeasibility.relaxations}
    assert (
        prices["requester.max_hourly"]
        == ProposalSolver(shipped_catalog())
        .solve(SolveRequest(persona=base_persona("analytics_engine"), k=1))
        .proposals[0]
        .hourly
    )


def test_infeasibility_on_a_5000_type_catalog_is_explained_quickly() -> None:
    from personas.instance.catalog import Catalog
    from tests.reference.gen_data import catalog

    big = ProposalSolver(Catalog.model_validate(catalog(n_regions=34)))
    req = SolveRequest(persona=public_pci_database())
    result = big.solve(req)
    assert result.infeasibility is not None
    assert set(result.infeasibility.conflict) == {
        "compliance.pci_dss.data_store_not_public",
        "security.public_ingress",
    }
    assert result.solve_ms < 5000
