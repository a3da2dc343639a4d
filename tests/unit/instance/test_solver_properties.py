"""Property tests: every proposal meets every hard constraint, proposals differ, the
cheapest equals exhaustive enumeration, and an infeasible request's conflict set really
conflicts and is minimal (all checked by enumeration with the independent checker)."""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from activities.instance.solver import ProposalSolver
from personas.instance.analyzer import flat_profile
from personas.instance.profiles import (
    Compliance,
    CostTolerance,
    InstancePersona,
    LifecycleProfile,
    SecurityProfile,
)
from personas.instance.proposals import SolveRequest
from personas.instance.requirements import Constraint, ContradictoryConstraints, Pins, base_type
from tests.reference.enumeration import cheapest_feasible
from tests.unit.instance.helpers import broken, small_catalog


def _named(kind: str, values: list[str]) -> st.SearchStrategy[Constraint]:
    return st.builds(Constraint, kind=st.just(kind), value=st.sampled_from(values))


constraints = st.lists(
    st.one_of(
        _named("region", ["us-east", "eu-west"]),
        _named("arch", ["x86_64", "arm64"]),
        _named("storage_kind", ["ssd", "hdd", "nvme"]),
        _named("tenancy", ["shared", "dedicated"]),
        _named("exclude_family", ["t3", "m5", "c7g"]),
        st.builds(Constraint, kind=st.just("min_vcpu"), value=st.integers(1, 64).map(float)),
        st.builds(Constraint, kind=st.just("max_hourly"), value=st.floats(0.05, 8.0)),
    ),
    max_size=3,
)

pins = st.builds(
    Pins,
    storage=st.sampled_from([None, None, None, "net-ssd-gp", "local-nvme", "net-hdd-cold"]),
    raid=st.sampled_from([None, None, "none", "raid1"]),
)


@st.composite
def personas(draw: st.DrawFn) -> InstancePersona:
    return InstancePersona(
        name="p",
        role="web_server",
        performance=flat_profile(
            cpu=draw(st.floats(0.1, 24)),
            memory=draw(st.floats(0.5, 300)),
            iops=draw(st.floats(10, 60000)),
            network=draw(st.floats(1, 20000)),
            data_gb=draw(st.floats(1, 3000)),
        ),
        security=SecurityProfile(
            compliance=tuple(draw(st.lists(st.sampled_from(list(Compliance)), max_size=2))),
            ingress=(draw(st.sampled_from(["10.0.0.0/8", "0.0.0.0/0"])),),
        ),
        lifecycle=LifecycleProfile(
            replicas=draw(st.integers(1, 3)), redundant_storage=draw(st.booleans())
        ),
        cost=CostTolerance(max_hourly=draw(st.floats(0.5, 50)), max_monthly=50 * 730),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(persona=personas(), extra=constraints, pins=pins)
def test_proposals_are_feasible_distinct_and_cheapest_is_exact(
    persona: InstancePersona, extra: list[Constraint], pins: Pins
) -> None:
    cat = small_catalog()
    req = SolveRequest(persona=persona, constraints=tuple(extra), pins=pins)
    try:
        result = ProposalSolver(cat).solve(req)
    except ContradictoryConstraints:
        return
    truth = cheapest_feasible(cat, req)
    event("infeasible" if truth is None else "feasible")
    if truth is None:
        assert result.proposals == ()
        assert result.infeasibility is not None
        conflict = set(result.infeasibility.conflict)
        assert conflict
        others = tuple(n for n in result.requirements if n not in conflict)
        # the conflict alone is infeasible, and it is minimal: without any member it is not
        assert cheapest_feasible(cat, req.model_copy(update={"dropped": others})) is None
        for name in conflict:
            without = req.model_copy(update={"dropped": (*others, name)})
            assert cheapest_feasible(cat, without) is not None, name
        return
    assert result.proposals, result.infeasibility
    for p in result.proposals:
        assert broken(p, cat, req) == [], p
    assert len({base_type(p.instance_type) for p in result.proposals}) == len(result.proposals)
    assert abs(result.proposals[0].hourly - truth[0]) < 1e-4
