"""Configuration validation, intents, deviation, risk bounds, guards, GA and A/B decisions."""

from __future__ import annotations

import random

import pytest

from personas.fleet.abtest import ArmStats, decide, split
from personas.fleet.config import DEFAULT_CONFIG, BadConfig, FleetConfig, all_configs, parse_config
from personas.fleet.genetic import evolve
from personas.fleet.objective import UnknownIntent, Weights, compile_weights
from personas.fleet.persona import deviation
from personas.fleet.risk import bounded_step, guard_check, policy
from personas.fleet.simulator import Scenario, SimParams, simulate
from tests.workflow.fleet_support import persona_for

BEST = FleetConfig(cpu_share=1.0, cache="lru", balancer="hash", replicas=4)


def test_configs_refuse_unknown_attributes_and_out_of_range_values() -> None:
    with pytest.raises(BadConfig, match="unknown attribute"):
        parse_config({"cpu_share": 0.5, "gpu": 1})
    with pytest.raises(BadConfig, match="replicas=9 out of range"):
        parse_config({"replicas": 9})
    with pytest.raises(BadConfig, match="cache='redis' out of range"):
        parse_config({"cache": "redis"})
    assert parse_config({"replicas": 3}).replicas == 3
    assert len(all_configs()) == 108


def test_intents_compile_into_weights_and_unknown_ones_are_refused() -> None:
    w = compile_weights(["Optimize for mobile users", "prepare for a traffic surge"])
    assert w.mobile_focus == 0.8
    assert w.errors == 20.0
    assert compile_weights([]) == Weights()
    with pytest.raises(UnknownIntent, match="unknown intent 'make it pop'"):
        compile_weights(["make it pop"])


def test_deviation_is_zero_at_the_optimum_and_grows_with_distance() -> None:
    p = persona_for("f", BEST)
    near = BEST.model_copy(update={"replicas": 3})
    assert deviation(BEST, p) == 0.0
    assert 0 < deviation(near, p) < deviation(DEFAULT_CONFIG, p) <= 1


@pytest.mark.parametrize("tolerance", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_bounded_steps_respect_the_risk_policy(tolerance: float) -> None:
    p = policy(tolerance)
    persona = persona_for("f", BEST)
    current = FleetConfig(cpu_share=0.25, replicas=1)
    steps = 0
    while current != BEST:
        nxt = bounded_step(current, persona, p)
        changed = [
            a
            for a in ("cpu_share", "cache", "balancer", "replicas")
            if getattr(nxt, a) != getattr(current, a)
        ]
        assert 1 <= len(changed) <= p.max_attributes
        current, steps = nxt, steps + 1
    assert steps <= 8
    assert policy(0.0).cooldown_s > policy(1.0).cooldown_s
    assert policy(0.0).stabilisation_s > policy(1.0).stabilisation_s


@pytest.mark.parametrize("bad", [-0.1, 1.01, 7])
def test_risk_tolerance_outside_unit_interval_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        policy(bad)


def test_guard_rejects_a_worse_fleet() -> None:
    sc = Scenario(rate_rps=150)
    good = simulate(BEST, sc, SimParams())
    bad = simulate(FleetConfig(cpu_share=0.25, replicas=1), sc, SimParams())
    persona = persona_for("f", BEST)
    assert guard_check(bad, good, persona.weights, persona.guard) == (True, "ok")
    ok, why = guard_check(good, bad, persona.weights, persona.guard)
    assert not ok
    assert why


def test_simulator_reflects_cpu_cache_and_replicas() -> None:
    sc = Scenario(rate_rps=150)
    p = SimParams()
    slow = simulate(FleetConfig(cpu_share=0.25, replicas=1), sc, p)
    fast = simulate(FleetConfig(cpu_share=1.0, replicas=1), sc, p)
    cached = simulate(FleetConfig(cpu_share=0.25, replicas=1, cache="lru"), sc, p)
    more = simulate(FleetConfig(cpu_share=0.25, replicas=4), sc, p)
    assert fast.p95_ms < slow.p95_ms
    assert cached.p95_ms < slow.p95_ms
    assert more.p95_ms < slow.p95_ms
    assert slow.error_rate > 0
    assert fast.revenue_per_visit > slow.revenue_per_visit


def test_genetic_algorithm_finds_the_fittest_genome() -> None:
    target = BEST

    def fitness(c: FleetConfig) -> float:
        return -sum(
            getattr(c, a) != getattr(target, a)
            for a in ("cpu_share", "cache", "balancer", "replicas")
        )

    ranked = evolve([DEFAULT_CONFIG], fitness, random.Random(4), generations=15, size=12)
    assert ranked[0] == target
    assert len(set(ranked)) == len(ranked)


def test_bayesian_decision_promotes_only_a_clear_winner() -> None:
    clear = [
        ArmStats(name="a", visits=4000, conversions=200),
        ArmStats(name="b", visits=4000, conversions=120),
    ]
    winner, p = decide(clear, seed=1)
    assert winner == "a"
    assert p["a"] > 0.95
    close = [
        ArmStats(name="a", visits=400, conversions=20),
        ArmStats(name="b", visits=400, conversions=19),
    ]
    assert decide(close, seed=1)[0] is None
    assert split({"a": 3, "b": 1}, 1000) == {"a": 750, "b": 250}
    with pytest.raises(ValueError, match="non-negative"):
        split({"a": -1}, 10)


def test_the_worker_settings_choose_the_fleet_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from activities.fleet.drivers import SimFleet, TestbedFleet, driver_from_settings
    from runtime.settings import Settings

    assert isinstance(driver_from_settings(Settings(_env_file=None)), SimFleet)
    monkeypatch.setenv("PERSONAS_FLEET_DRIVER", "testbed")
    monkeypatch.setenv("PERSONAS_FLEET_TESTBED_BASE_PORT", "42000")
    driver = driver_from_settings(Settings(_env_file=None))
    assert isinstance(driver, TestbedFleet)
    assert driver.ports is not None
    assert driver.ports.base == 42000
    assert driver.fleets == {}  # nothing starts before a fleet is used
    monkeypatch.setenv("PERSONAS_FLEET_DRIVER", "kubernetes")
    with pytest.raises(ValidationError, match="fleet_driver"):
        Settings(_env_file=None)
