"""Shared helpers of the instance unit tests: the shipped catalog and proposal checking."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from personas.instance.catalog import Catalog, layouts
from personas.instance.proposals import Proposal, SolveRequest
from personas.instance.requirements import Config, compile_requirements, violations

CATALOG_PATH = Path(__file__).resolve().parents[3] / "data" / "instance_catalog.json"


@lru_cache(maxsize=1)
def shipped_catalog() -> Catalog:
    """The catalog in data/instance_catalog.json."""
    return Catalog.model_validate(json.loads(CATALOG_PATH.read_text()))


@lru_cache(maxsize=1)
def small_catalog() -> Catalog:
    """Every fifth type of the shipped catalog (small enough for exhaustive enumeration)."""
    cat = shipped_catalog()
    return cat.model_copy(update={"types": cat.types[::5]})


def config_of(p: Proposal, catalog: Catalog, req: SolveRequest) -> Config:
    """The configuration a proposal stands for."""
    t = catalog.type_named(p.instance_type)
    assert t is not None
    lay = next(
        s
        for s in layouts(catalog, req.persona.performance.data_gb)
        if s.option == p.storage and s.raid == p.raid
    )
    return Config(
        type=t,
        layout=lay,
        dedicated=p.tenancy == "dedicated",
        public_ingress=p.public_ingress,
        replicas=p.replicas,
    )


def broken(p: Proposal, catalog: Catalog, req: SolveRequest) -> list[str]:
    """Names of the hard constraints the proposal breaks (independent checker)."""
    reqs = [
        r
        for r in compile_requirements(req.persona, req.constraints, req.pins, req.headroom)
        if r.name not in req.dropped
    ]
    return violations(config_of(p, catalog, req), reqs, catalog)
