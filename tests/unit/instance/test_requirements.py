"""Compliance compiled into concrete requirements; requester constraints and contradictions."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from personas.instance.base import base_persona
from personas.instance.profiles import InstancePersona
from personas.instance.requirements import (
    Constraint,
    ContradictoryConstraints,
    Pins,
    compile_requirements,
)


def with_compliance(name: str, *regimes: str) -> InstancePersona:
    data = base_persona(name).model_dump()
    data["security"]["compliance"] = list(regimes)
    return InstancePersona.model_validate(data)


def test_hipaa_and_pci_compile_into_concrete_requirements() -> None:
    names = {r.name for r in compile_requirements(with_compliance("database", "hipaa"))}
    assert {
        "compliance.hipaa.audit_logging",
        "compliance.hipaa.baa",
        "preference.hipaa.encryption_at_rest",
        "preference.hipaa.encryption_in_transit",
    } <= names
    pci = {r.kind for r in compile_requirements(with_compliance("database", "pci_dss"))}
    assert {"encryption_at_rest", "encryption_in_transit", "restricted_ingress"} <= pci
    # PCI DSS does not require dedicated hardware (issue 14): no tenancy requirement
    assert "dedicated_tenancy" not in pci


def test_capacity_has_headroom_over_the_peak_per_replica() -> None:
    persona = base_persona("web_server")
    reqs = {r.name: r for r in compile_requirements(persona, headroom=0.5)}
    peak = persona.performance.cpu_cores.peak
    assert reqs["capacity.vcpu"].value == pytest.approx(peak * 1.5 / persona.lifecycle.replicas)


def test_requester_constraints_and_pins_become_requirements() -> None:
    reqs = compile_requirements(
        base_persona("database"),
        (Constraint(kind="region", value="eu-west"), Constraint(kind="min_vcpu", value=8)),
        Pins(storage="net-ssd-gp", tenancy="shared"),
    )
    names = {r.name for r in reqs}
    assert {"requester.region.eu-west", "requester.min_vcpu", "pin.storage", "pin.tenancy"} <= names


@pytest.mark.parametrize(
    ("constraints", "pins", "match"),
    [
        (
            (
                Constraint(kind="region", value="eu-west"),
                Constraint(kind="region", value="us-east"),
            ),
            Pins(),
            "different regions",
        ),
        (
            (Constraint(kind="family", value="m5"), Constraint(kind="exclude_family", value="m5")),
            Pins(),
            "required and excluded",
        ),
        ((Constraint(kind="tenancy", value="shared"),), Pins(tenancy="dedicated"), "tenancys"),
    ],
)
def test_contradictory_constraints_are_refused(
    constraints: tuple[Constraint, ...], pins: Pins, match: str
) -> None:
    with pytest.raises(ContradictoryConstraints, match=match):
        compile_requirements(base_persona("database"), constraints, pins)


def test_pci_with_shared_tenancy_compiles() -> None:
    reqs = compile_requirements(
        with_compliance("database", "pci_dss"), (Constraint(kind="tenancy", value="shared"),)
    )
    assert "requester.tenancy.shared" in {r.name for r in reqs}


@pytest.mark.parametrize(
    ("kind", "value", "match"),
    [
        ("min_vcpu", -1, "must be positive"),
        ("max_hourly", 0, "must be positive"),
        ("min_vcpu", "eight", "needs a number"),
        ("tenancy", "cheap", "must be one of"),
        ("redundant_storage", "yes", "true or false"),
        ("colour", "red", "Input should be"),
    ],
)
def test_bad_constraints_are_refused(kind: str, value: object, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Constraint.model_validate({"kind": kind, "value": value})
