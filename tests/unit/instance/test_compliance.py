"""Compliance compiled as the standards say: sections cited, mandates kept, preferences
droppable, a public PCI web shop feasible, a provider without a control explained."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from activities.instance.solver import ProposalSolver
from personas.instance.compliance import RULES, mandate, rules_for
from personas.instance.negotiation import Changes, Modify, Round, Terms, next_terms
from personas.instance.proposals import SolveRequest
from personas.instance.requirements import compile_requirements
from tests.unit.instance.helpers import broken, shipped_catalog
from tests.unit.instance.test_requirements import with_compliance


def test_every_rule_cites_a_section_of_its_standard() -> None:
    prefixes = {
        "pci_dss": "PCI DSS v4.0 Req.",
        "hipaa": "HIPAA 45 CFR 164.",
        "soc2": "SOC 2 TSC CC",
        "gdpr": "GDPR Art.",
    }
    for rule, _ in RULES:
        assert rule.section.startswith(prefixes[rule.regime.value]), rule


def test_a_public_pci_web_shop_is_feasible_on_shared_tenancy_behind_a_waf() -> None:
    shop = with_compliance("web_server", "pci_dss")
    assert shop.security.public_ingress
    cat = shipped_catalog()
    req = SolveRequest(persona=shop)
    result = ProposalSolver(cat).solve(req)
    assert result.infeasibility is None
    assert len(result.proposals) == 3
    for p in result.proposals:
        assert p.public_ingress
        assert broken(p, cat, req) == []
        assert any(c.startswith("waf (PCI DSS v4.0 Req. 6.4.2") for c in p.controls)
    assert result.proposals[0].tenancy == "shared"


def test_hipaa_needs_audit_and_a_baa_not_dedicated_hardware_nor_closed_ingress() -> None:
    names = {r.name: r for r in compile_requirements(with_compliance("web_server", "hipaa"))}
    assert names["compliance.hipaa.audit_logging"].reason.startswith("HIPAA 45 CFR 164.312(b)")
    assert "164.308(b)(1)" in names["compliance.hipaa.baa"].reason
    assert "addressable" in names["preference.hipaa.encryption_at_rest"].reason
    assert not any(r.kind in ("dedicated_tenancy", "restricted_ingress") for r in names.values())
    result = ProposalSolver(shipped_catalog()).solve(
        SolveRequest(persona=with_compliance("web_server", "hipaa"))
    )
    assert result.proposals


def test_a_provider_that_signs_no_baa_is_named_as_the_conflict() -> None:
    cat = shipped_catalog()
    no_baa = cat.model_copy(update={"capabilities": ("audit_logging", "mfa_admin", "waf")})
    result = ProposalSolver(no_baa).solve(
        SolveRequest(persona=with_compliance("database", "hipaa"))
    )
    assert result.infeasibility is not None
    assert result.infeasibility.conflict == ("compliance.hipaa.baa",)
    assert "164.314(a)" in result.infeasibility.message


def test_mandated_rules_cannot_be_dropped_and_the_refusal_names_the_section() -> None:
    with pytest.raises(ValidationError, match=r"PCI DSS v4\.0 Req\. 3\.5\.1 mandates it"):
        Changes(drop=("compliance.pci_dss.encryption_at_rest",))
    with pytest.raises(ValidationError, match=r"164\.312\(b\) mandates it"):
        Changes(drop=("compliance.hipaa.audit_logging",))
    assert mandate("compliance.pci_dss.waf") is not None
    assert mandate("preference.gdpr.eu_residency") is None


def test_preferences_can_be_dropped_or_changed() -> None:
    persona = with_compliance("database", "gdpr")
    reqs = {r.name: r for r in compile_requirements(persona)}
    assert reqs["preference.gdpr.eu_residency"].kind == "region_prefix"
    solver = ProposalSolver(shipped_catalog())
    in_eu = solver.solve(SolveRequest(persona=persona))
    assert {p.region for p in in_eu.proposals} == {"eu-west"}
    rnd = Round(number=1, proposals=in_eu.proposals, started_ms=0, deadline_ms=1)
    drop = Modify(
        round=1, changes=Changes(drop=("preference.gdpr.eu_residency",), region="us-east")
    )
    terms = next_terms(drop, rnd, Terms())
    assert "preference.gdpr.eu_residency" in terms.dropped
    moved = solver.solve(
        SolveRequest(
            persona=persona, constraints=terms.constraints, pins=terms.pins, dropped=terms.dropped
        )
    )
    assert {p.region for p in moved.proposals} == {"us-east"}


def test_soc2_compiles_to_preferences_only() -> None:
    rules = rules_for(with_compliance("web_server", "soc2"))
    assert rules
    assert not any(r.mandated for r in rules)
