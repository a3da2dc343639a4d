"""Experiments on the real testbed: measure, calibrate the simulator, learn a persona."""

from __future__ import annotations

import asyncio
from datetime import datetime

from activities.fleet.loadgen import generate
from activities.fleet.testbed import Testbed
from personas.fleet.calibration import Calibration, Measurement, calibrate
from personas.fleet.config import DEFAULT_CONFIG, FleetConfig
from personas.fleet.environment import SimEnvironment
from personas.fleet.learner import ThompsonBandit, learn
from personas.fleet.objective import compile_weights
from personas.fleet.persona import FleetPersona
from personas.fleet.simulator import Scenario, SimParams

#: Configurations measured for calibration: the default, a strong and a weak fleet.
PROBES = (
    DEFAULT_CONFIG,
    FleetConfig(cpu_share=1.0, cache="lru", balancer="hash", replicas=3),
    FleetConfig(cpu_share=0.25, cache="ttl", balancer="least_conn", replicas=2),
)


async def measure(tb: Testbed, config: FleetConfig, scenario: Scenario, seed: int) -> Measurement:
    """Reconfigure the testbed (nginx reload) and replay the scenario."""
    if tb.config != config:
        await asyncio.to_thread(tb.apply, config)
    m = await generate(
        tb.url, scenario.pattern, scenario.rate_rps, scenario.duration_s, config, seed
    )
    return Measurement(config=config, scenario=scenario, metrics=m)


async def calibrate_on(
    tb: Testbed, scenario: Scenario, probes: tuple[FleetConfig, ...] = PROBES
) -> Calibration:
    """Measure the probes on the testbed and fit the simulator to them."""
    data = [await measure(tb, c, scenario, seed=i) for i, c in enumerate(probes)]
    return await asyncio.to_thread(calibrate, data)


def learn_persona(
    fleet_id: str,
    scenario: Scenario,
    params: SimParams | None,
    *,
    intents: list[str],
    rounds: int,
    seed: int,
    author: str,
    now: datetime,
    sources: list[str],
) -> FleetPersona:
    """Thompson sampling in the calibrated simulator, then the persona it implies for the
    scenario's context (which the persona records)."""
    weights = compile_weights(intents)
    env = SimEnvironment(scenario, weights, params, seed=seed)
    bandit = ThompsonBandit(seed=seed)
    learn(bandit, scenario.context(), env.reward, rounds)
    return bandit.persona(
        fleet_id,
        scenario.context(),
        weights,
        author=author,
        created_at=now,
        sources=sources,
        intents=intents,
    )
