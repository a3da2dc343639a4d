"""Context as bandit features: validation, the simulator's documented response, learning
the best configuration per context, and transfer between related contexts."""

from __future__ import annotations

from datetime import UTC, datetime
from statistics import mean

import pytest
from pydantic import ValidationError

from personas.fleet.config import DEFAULT_CONFIG, FleetConfig
from personas.fleet.context import FleetContext, context_features, traffic_factor
from personas.fleet.environment import SimEnvironment
from personas.fleet.evaluation import transfer_run
from personas.fleet.learner import ThompsonBandit
from personas.fleet.objective import compile_weights
from personas.fleet.persona import FleetPersona
from personas.fleet.simulator import Scenario, SimParams, simulate
from tests.workflow.fleet_support import persona_for

STRONG = FleetConfig(cpu_share=1.0, cache="lru", balancer="hash", replicas=4)
WEAK = FleetConfig(cpu_share=0.25, cache="none", balancer="round_robin", replicas=1)
W = compile_weights([])


def test_contexts_are_validated_and_keyed() -> None:
    ctx = FleetContext(pattern="surge", hour=20, region="us", campaign=True)
    assert ctx.day_part() == "evening"
    assert ctx.key() == "surge-evening-us-campaign"
    assert traffic_factor(ctx) == pytest.approx(2.6)
    for bad in ({"hour": 24}, {"region": "mars"}, {"pattern": "bursty"}, {"weather": "rain"}):
        with pytest.raises(ValidationError):
            FleetContext.model_validate(bad)
    assert Scenario(pattern="surge", hour=20, rate_rps=50).context() == FleetContext(
        pattern="surge", hour=20
    )
    assert len(context_features(ctx)) == len(context_features(FleetContext()))


def test_the_simulator_responds_to_context_as_documented() -> None:
    base = Scenario(rate_rps=100)
    assert simulate(STRONG, base, SimParams()) == simulate(
        STRONG, Scenario(rate_rps=100, hour=14, region="local", campaign=False), SimParams()
    )
    far = simulate(STRONG, base.model_copy(update={"region": "us"}), SimParams())
    near = simulate(STRONG, base, SimParams())
    assert far.p50_ms == pytest.approx(near.p50_ms + 80.0, abs=1.0)
    assert far.revenue_per_visit < near.revenue_per_visit
    night = simulate(STRONG, base.model_copy(update={"hour": 3}), SimParams())
    campaign = simulate(STRONG, base.model_copy(update={"hour": 3, "campaign": True}), SimParams())
    assert campaign.revenue_per_visit > 1.3 * night.revenue_per_visit  # value x1.5, a bit slower
    evening = simulate(WEAK, base.model_copy(update={"hour": 20}), SimParams())
    early = simulate(WEAK, base.model_copy(update={"hour": 3}), SimParams())
    assert evening.p95_ms > 2 * early.p95_ms


CONTEXTS = [
    Scenario(rate_rps=150),
    Scenario(rate_rps=150, pattern="surge", campaign=True),
    Scenario(rate_rps=150, hour=3, region="apac"),
    Scenario(rate_rps=150, hour=20, campaign=True),
]


def test_one_learner_finds_the_best_configuration_of_each_context() -> None:
    envs = [SimEnvironment(sc, W, seed=i) for i, sc in enumerate(CONTEXTS)]
    oracles = [env.oracle() for env in envs]
    assert len({o.key() for o, _ in oracles}) >= 3  # the contexts want different fleets
    bandit = ThompsonBandit(seed=4)
    for _ in range(90):
        for sc, env in zip(CONTEXTS, envs, strict=True):
            c = bandit.choose(sc.context())
            bandit.update(sc.context(), c, env.reward(c))
    for sc, env, (_, best) in zip(CONTEXTS, envs, oracles, strict=True):
        got = env.expected(bandit.best(sc.context()))
        assert got >= best - 0.05 * abs(best), (sc.context().key(), got, best)
    assert set(bandit.observations) == {sc.context().key() for sc in CONTEXTS}


def test_learning_in_related_contexts_transfers_to_an_unseen_one() -> None:
    """Trained on surge traffic and on a campaign separately, the learner is near the oracle
    of a surge during a campaign (never seen) sooner and with less regret than a cold start."""
    train = [Scenario(rate_rps=150, pattern="surge"), Scenario(rate_rps=150, campaign=True)]
    target = Scenario(rate_rps=150, pattern="surge", campaign=True)
    runs = [
        transfer_run(train, target, W, SimParams(), train_rounds=60, rounds=50, seed=s)
        for s in range(3)
    ]
    assert mean(r.warm_rounds for r in runs) < mean(r.cold_rounds for r in runs), runs
    assert mean(r.warm_regret_pct for r in runs) < 0.5 * mean(r.cold_regret_pct for r in runs)
    assert all(r.target == "surge-day-local-campaign" for r in runs)


def test_personas_record_their_context_and_older_ones_still_load() -> None:
    bandit = ThompsonBandit(seed=1)
    ctx = FleetContext(pattern="mobile", hour=8, region="eu", campaign=True)
    p = bandit.persona(
        "f", ctx, W, author="t", created_at=datetime(2026, 1, 1, tzinfo=UTC), sources=[]
    )
    assert p.context == ctx
    again = FleetPersona.model_validate(p.model_dump(mode="json"))
    assert again.context == ctx
    old = persona_for("f", DEFAULT_CONFIG).model_dump(mode="json")
    old["context"] = "surge"
    assert FleetPersona.model_validate(old).context == FleetContext(pattern="surge")
