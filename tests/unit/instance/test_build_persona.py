"""Building the persona to negotiate for: base, prediction, overrides, and refusals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from activities.instance.activities import build_persona
from activities.instance.contracts import AnalyzeRequest
from personas.instance.base import UnknownBasePersona, base_persona
from personas.instance.profiles import Compliance
from personas.instance.workload import UnreadableWorkload, WorkloadSpec


def test_a_base_persona_alone_keeps_its_profiles() -> None:
    built = build_persona(AnalyzeRequest(name="web", base="web_server"))
    assert built.persona.performance == base_persona("web_server").performance
    assert built.spec is None
    assert built.heldout_mape_pct is None


def test_text_predicts_performance_and_the_base_keeps_the_rest() -> None:
    built = build_persona(
        AnalyzeRequest(name="db", base="database", text="a database with 900 requests per second")
    )
    assert built.spec is not None
    assert built.spec.requests_per_s == 900
    assert built.persona.performance != base_persona("database").performance
    assert built.persona.performance.cpu_cores.upper
    assert built.persona.lifecycle.redundant_storage
    assert built.heldout_mape_pct is not None


def test_overrides_merge_into_sections() -> None:
    built = build_persona(
        AnalyzeRequest(
            name="web",
            base="web_server",
            workload=WorkloadSpec(requests_per_s=80),
            overrides={"security": {"compliance": ["hipaa"], "ingress": ["10.0.0.0/8"]}},
        )
    )
    assert built.persona.security.compliance == (Compliance.HIPAA,)
    assert not built.persona.security.public_ingress
    assert built.persona.security.access_levels == ("operator", "deployer")


def test_bad_requests_are_refused() -> None:
    with pytest.raises(UnknownBasePersona):
        build_persona(AnalyzeRequest(name="x", base="mainframe"))
    with pytest.raises(UnreadableWorkload):
        build_persona(AnalyzeRequest(name="x", text="please be quick"))
    with pytest.raises(ValidationError, match=r"lifecycle\.replicas"):
        build_persona(
            AnalyzeRequest(name="x", base="web_server", overrides={"lifecycle": {"replicas": -1}})
        )
