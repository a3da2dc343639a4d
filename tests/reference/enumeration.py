"""Exhaustive enumeration of the proposal model: the reference the solver is checked against.

Every (type, storage layout, tenancy, ingress) combination is checked with the independent
checker :func:`personas.instance.requirements.violations`; only usable on small catalogs.
"""

from __future__ import annotations

import itertools

from personas.instance.catalog import Catalog, fits_locally, layouts
from personas.instance.proposals import SolveRequest
from personas.instance.requirements import Config, compile_requirements, hourly_cost, violations


def cheapest_feasible(catalog: Catalog, req: SolveRequest) -> tuple[float, Config] | None:
    """The true cheapest feasible configuration and its hourly cost, or None."""
    reqs = [
        r
        for r in compile_requirements(req.persona, req.constraints, req.pins, req.headroom)
        if r.name not in req.dropped
    ]
    lays = layouts(catalog, req.persona.performance.data_gb)
    best: tuple[float, Config] | None = None
    for t, lay, ded, pub in itertools.product(catalog.types, lays, (False, True), (False, True)):
        if not fits_locally(t, lay) or (ded and not t.dedicated_available):
            continue
        c = Config.model_construct(
            type=t,
            layout=lay,
            dedicated=ded,
            public_ingress=pub,
            replicas=req.persona.lifecycle.replicas,
        )
        if violations(c, reqs, catalog):
            continue
        cost = hourly_cost(c, catalog)
        if best is None or cost < best[0]:
            best = (cost, c)
    return best
