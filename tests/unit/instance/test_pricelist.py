"""A provider's real price list (the ec2-instances-info shape) imported into a catalog the
solver negotiates over, monthly cost beside hourly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from activities.instance.activities import load_catalog
from activities.instance.pricelist import import_ec2_instances
from activities.instance.solver import ProposalSolver
from personas.instance.base import base_persona
from personas.instance.proposals import SolveRequest
from personas.instance.requirements import Constraint
from tests.unit.instance.helpers import broken, shipped_catalog

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "pricelists" / "ec2_instances_sample.json"


def test_the_sample_imports_each_priced_type_and_region_and_skips_the_rest() -> None:
    report = import_ec2_instances(json.loads(SAMPLE.read_text()), shipped_catalog(), "sample")
    names = {t.name for t in report.catalog.types}
    assert "m5.large@us-east-1" in names
    assert "m5.large@eu-west-1" in names
    assert report.imported == 21
    assert report.skipped == ["x1.16xlarge: no Linux on-demand price or unreadable network"]
    m5 = report.catalog.type_named("m5.large@us-east-1")
    assert m5 is not None
    assert (m5.vcpu, m5.memory_gib, m5.network_gbps, m5.price_hourly) == (2, 8.0, 10.0, 0.096)
    i3 = report.catalog.type_named("i3.large@us-east-1")
    assert i3 is not None
    assert (i3.local_disks, i3.local_disk_gb, i3.local_disk_kind) == (1, 475, "nvme")
    m4 = report.catalog.type_named("m4.large@us-east-1")
    assert m4 is not None
    assert m4.network_gbps == 0.5  # "Moderate"
    graviton = report.catalog.type_named("m6g.large@eu-west-1")
    assert graviton is not None
    assert graviton.arch == "arm64"
    assert report.catalog.storage == shipped_catalog().storage


def test_a_negotiation_solves_over_the_imported_price_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PERSONAS_INSTANCE_CATALOG", str(SAMPLE))
    catalog = load_catalog()
    assert catalog.provenance == "ec2-instances-info price list ec2_instances_sample.json"
    vocabulary = catalog.vocabulary()
    assert vocabulary.regions == ("eu-west-1", "us-east-1")
    req = SolveRequest(
        persona=base_persona("web_server"),
        constraints=(Constraint(kind="region", value="eu-west-1"),),
    )
    result = ProposalSolver(catalog).solve(req)
    assert result.proposals
    for p in result.proposals:
        assert p.region == "eu-west-1"
        assert broken(p, catalog, req) == []
        assert p.monthly == pytest.approx(p.hourly * 730, abs=0.05)


@pytest.mark.parametrize(
    ("data", "match"),
    [({"products": {}}, "JSON list"), ([{"instance_type": "m5.large", "pricing": {}}], "holds no")],
)
def test_unreadable_price_lists_are_refused(data: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        import_ec2_instances(data, shipped_catalog(), "bad")
