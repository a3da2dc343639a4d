"""The learner in the simulator: it finds the best configuration of known scenarios."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from personas.fleet.abtest import ArmStats
from personas.fleet.config import DEFAULT_CONFIG, FleetConfig
from personas.fleet.environment import SimEnvironment
from personas.fleet.learner import ThompsonBandit, learn, retrain_from_ab
from personas.fleet.objective import compile_weights
from personas.fleet.simulator import Scenario

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pattern", "intents"),
    [
        ("steady", []),
        ("surge", ["prepare for a traffic surge"]),
        ("mobile", ["optimise for mobile users"]),
    ],
)
def test_thompson_sampling_finds_a_near_best_configuration(
    pattern: str, intents: list[str]
) -> None:
    weights = compile_weights(intents)
    env = SimEnvironment(Scenario(pattern=pattern, rate_rps=150), weights, seed=3)
    _, best = env.oracle()
    bandit = ThompsonBandit(seed=3)
    learn(bandit, pattern, env.reward, 150)
    persona = bandit.persona(
        "f1",
        pattern,
        weights,
        author="test",
        created_at=NOW,
        sources=["simulator"],
        intents=intents,
    )
    got = env.expected(persona.optimum)
    assert got >= best - 0.05 * abs(best), (persona.optimum, got, best)
    assert got > env.expected(DEFAULT_CONFIG) or env.expected(DEFAULT_CONFIG) >= best - 0.05 * abs(
        best
    )
    for dist in persona.attribute_weights.values():
        assert sum(dist.values()) == pytest.approx(1.0, abs=0.01)
    assert 0 < persona.confidence <= 1
    assert persona.author == "test"
    assert persona.input_sources == ["simulator"]
    assert persona.intents == intents


def test_a_clear_winner_is_learned_with_confidence() -> None:
    """A scenario where one configuration dominates: the learner finds exactly it."""
    target = FleetConfig(cpu_share=1.0, cache="ttl", balancer="hash", replicas=3)

    def reward(c: FleetConfig) -> float:
        return 1.0 if c == target else 0.0

    bandit = ThompsonBandit(seed=1, noise=0.05)
    learn(bandit, "steady", reward, 250)
    assert bandit.best("steady") == target
    persona = bandit.persona(
        "f", "steady", compile_weights([]), author="a", created_at=NOW, sources=[]
    )
    assert persona.optimum == target
    assert persona.confidence > 0.8


def test_contexts_are_learned_separately() -> None:
    bandit = ThompsonBandit(seed=2)
    learn(bandit, "surge", lambda c: float(c.replicas), 120)
    learn(bandit, "mobile", lambda c: -float(c.replicas), 120)
    assert bandit.best("surge").replicas == 4
    assert bandit.best("mobile").replicas == 1


def test_learning_is_reproducible_from_its_seed() -> None:
    env = SimEnvironment(Scenario(rate_rps=150), compile_weights([]), seed=5)
    picks = []
    for _ in range(2):
        b = ThompsonBandit(seed=9)
        seen: list[FleetConfig] = []
        env.rng.seed(5)

        def record(t: int, c: FleetConfig, r: float, seen: list[FleetConfig] = seen) -> None:
            seen.append(c)

        learn(b, "steady", env.reward, 30, record)
        picks.append(seen)
    assert picks[0] == picks[1]


def test_the_learner_retrains_on_ab_results() -> None:
    a = FleetConfig(cpu_share=0.5, cache="ttl", balancer="hash", replicas=2)
    b = FleetConfig(cpu_share=0.5, cache="none", balancer="hash", replicas=2)
    bandit = ThompsonBandit(seed=4)
    for _ in range(5):
        bandit.update("steady", a, 0.5)
        bandit.update("steady", b, 1.0)
    assert bandit.best("steady") == b
    arms = [
        ArmStats(name="a", visits=5000, conversions=400, revenue=15000.0),
        ArmStats(name="b", visits=5000, conversions=100, revenue=2000.0),
    ]
    retrain_from_ab(bandit, "steady", {"a": a, "b": b}, arms, compile_weights([]), repeats=20)
    assert bandit.best("steady") == a
