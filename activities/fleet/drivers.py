"""Fleets the activities act on: the simulated fleet and the real nginx testbed."""

from __future__ import annotations

import asyncio
from typing import Protocol

from activities.fleet.loadgen import generate
from activities.fleet.testbed import Testbed
from personas.fleet.config import DEFAULT_CONFIG, FleetConfig
from personas.fleet.objective import Metrics
from personas.fleet.simulator import Scenario, SimParams, simulate


class FleetDriver(Protocol):
    """What the activities need of a fleet."""

    def current(self, fleet_id: str) -> FleetConfig:
        """The configuration the fleet runs now."""
        ...

    async def apply(self, fleet_id: str, config: FleetConfig) -> None:
        """Reconfigure the fleet."""
        ...

    async def observe(self, fleet_id: str, scenario: Scenario, seed: int) -> Metrics:
        """Observe the fleet under a scenario."""
        ...


class SimFleet:
    """Fleets simulated by the calibrated simulator; the configuration lives here."""

    def __init__(self, params: SimParams | None = None) -> None:
        self.params = params or SimParams()
        self.configs: dict[str, FleetConfig] = {}
        self.applied: list[tuple[str, FleetConfig]] = []

    def current(self, fleet_id: str) -> FleetConfig:
        """The fleet's configuration (the default until first applied)."""
        return self.configs.get(fleet_id, DEFAULT_CONFIG)

    async def apply(self, fleet_id: str, config: FleetConfig) -> None:
        """Set the configuration."""
        self.configs[fleet_id] = config
        self.applied.append((fleet_id, config))

    async def observe(self, fleet_id: str, scenario: Scenario, seed: int) -> Metrics:
        """Simulated metrics (seeded noise)."""
        return simulate(self.current(fleet_id), scenario, self.params, seed)


class TestbedFleet:
    """One real testbed (replicas behind nginx) observed with the loopback load generator."""

    __test__ = False

    def __init__(self, testbed: Testbed, max_rate_rps: float = 300.0) -> None:
        self.testbed = testbed
        self.max_rate_rps = max_rate_rps
        self.lock = asyncio.Lock()

    def current(self, fleet_id: str) -> FleetConfig:
        """The testbed's configuration."""
        return self.testbed.config

    async def apply(self, fleet_id: str, config: FleetConfig) -> None:
        """Reconfigure replicas and reload nginx (skipped when already there)."""
        async with self.lock:
            if config != self.testbed.config:
                await asyncio.to_thread(self.testbed.apply, config)

    async def observe(self, fleet_id: str, scenario: Scenario, seed: int) -> Metrics:
        """Replay the scenario against nginx (rate capped) and measure."""
        async with self.lock:
            rate = min(scenario.rate_rps, self.max_rate_rps)
            return await generate(
                self.testbed.url,
                scenario.pattern,
                rate,
                min(scenario.duration_s, 10.0),
                self.testbed.config,
                seed=seed,
            )
