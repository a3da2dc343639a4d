"""Fleets the activities act on: the simulated fleet and real nginx testbeds.

A driver adapts fleets (``current``/``apply``/``observe``) and runs A/B variations side by side
(``deploy_variant``/``measure_split``/``retire``). ``driver_from_settings`` builds the one the
worker's settings choose (``PERSONAS_FLEET_DRIVER``).
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, Protocol

from activities.fleet.loadgen import Visit, generate, generate_split
from activities.fleet.testbed import PortRange, Testbed, free_port
from personas.fleet.abtest import ArmStats, split
from personas.fleet.config import DEFAULT_CONFIG, FleetConfig
from personas.fleet.context import traffic_factor, value_factor
from personas.fleet.objective import ORDER_VALUE, Metrics, conversion_of
from personas.fleet.simulator import Scenario, SimParams, simulate

if TYPE_CHECKING:
    from runtime.settings import Settings

#: Longest replay of one observation or A/B round on a testbed.
MAX_REPLAY_S = 10.0


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

    async def deploy_variant(self, ab_id: str, name: str, config: FleetConfig) -> str:
        """Run an A/B variation (idempotent); its endpoint."""
        ...

    async def measure_split(
        self,
        ab_id: str,
        weights: dict[str, float],
        visits: int,
        scenario: Scenario,
        seed: int,
    ) -> list[ArmStats]:
        """One round: one traffic stream split between the deployed variations by ``weights``."""
        ...

    async def retire(self, ab_id: str) -> None:
        """Stop an A/B test's variations (idempotent)."""
        ...

    async def close(self) -> None:
        """Release everything the driver runs."""
        ...


class SimFleet:
    """Fleets simulated by the calibrated simulator; the configuration lives here."""

    def __init__(self, params: SimParams | None = None) -> None:
        self.params = params or SimParams()
        self.configs: dict[str, FleetConfig] = {}
        self.applied: list[tuple[str, FleetConfig]] = []
        self.variants: dict[str, dict[str, FleetConfig]] = {}

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

    async def deploy_variant(self, ab_id: str, name: str, config: FleetConfig) -> str:
        """Remember the variation."""
        self.variants.setdefault(ab_id, {})[name] = config
        return f"sim://{ab_id}/{name}"

    async def measure_split(
        self, ab_id: str, weights: dict[str, float], visits: int, scenario: Scenario, seed: int
    ) -> list[ArmStats]:
        """Exactly ``split`` visits per variation; conversions drawn from simulated rates."""
        deployed = self.variants.get(ab_id, {})
        missing = sorted(set(weights) - set(deployed))
        if missing:
            raise KeyError(f"variations {missing} of {ab_id} are not deployed")
        rng = random.Random(seed)
        out = []
        for name, n in split(weights, visits).items():
            m = simulate(deployed[name], scenario, self.params, rng.randint(0, 2**31))
            conv = sum(1 for _ in range(n) if rng.random() < m.conversion)
            out.append(
                ArmStats(name=name, visits=n, conversions=conv, revenue=n * m.revenue_per_visit)
            )
        return out

    async def retire(self, ab_id: str) -> None:
        """Forget the variations."""
        self.variants.pop(ab_id, None)

    async def close(self) -> None:
        """Nothing to release."""


def arm_stats(name: str, visits: list[Visit], value: float, rng: random.Random) -> ArmStats:
    """Visits, conversions (drawn from the traffic model) and revenue of real visits."""
    conversions = 0
    revenue = 0.0
    for lat, device, ok in visits:
        if ok and rng.random() < conversion_of(lat, device):
            conversions += 1
            revenue += ORDER_VALUE[device] * value
    return ArmStats(name=name, visits=len(visits), conversions=conversions, revenue=revenue)


class TestbedFleet:
    """Real testbeds (replicas behind nginx) observed with the loopback load generator.

    Given a ``testbed``, every fleet id is that testbed; otherwise each fleet id gets its own
    testbed, started on first use. Each A/B variation runs on its own testbed, all at once.
    Ports come from ``ports`` (any free loopback port by default).
    """

    __test__ = False

    def __init__(
        self,
        testbed: Testbed | None = None,
        max_rate_rps: float = 300.0,
        ports: PortRange | None = None,
    ) -> None:
        self.testbed = testbed
        self.max_rate_rps = max_rate_rps
        self.ports = ports
        self.fleets: dict[str, Testbed] = {}
        self.variants: dict[str, dict[str, Testbed]] = {}
        self.lock = asyncio.Lock()
        self.ab_lock = asyncio.Lock()

    async def _start(self, config: FleetConfig) -> Testbed:
        tb = Testbed(config, self.ports or free_port)
        try:
            await asyncio.to_thread(tb.start)
        except BaseException:
            await asyncio.to_thread(tb.stop)
            raise
        return tb

    async def _fleet(self, fleet_id: str) -> Testbed:
        if self.testbed is not None:
            return self.testbed
        if fleet_id not in self.fleets:
            self.fleets[fleet_id] = await self._start(DEFAULT_CONFIG)
        return self.fleets[fleet_id]

    def current(self, fleet_id: str) -> FleetConfig:
        """The testbed's configuration (the default before it starts)."""
        tb = self.testbed or self.fleets.get(fleet_id)
        return tb.config if tb is not None else DEFAULT_CONFIG

    async def apply(self, fleet_id: str, config: FleetConfig) -> None:
        """Reconfigure replicas and reload nginx (skipped when already there)."""
        async with self.lock:
            tb = await self._fleet(fleet_id)
            if config != tb.config:
                await asyncio.to_thread(tb.apply, config)

    def _rate(self, scenario: Scenario) -> float:
        return min(scenario.rate_rps * traffic_factor(scenario), self.max_rate_rps)

    async def observe(self, fleet_id: str, scenario: Scenario, seed: int) -> Metrics:
        """Replay the scenario in its context against nginx (rate capped) and measure."""
        async with self.lock:
            tb = await self._fleet(fleet_id)
            return await generate(
                tb.url,
                scenario.pattern,
                self._rate(scenario),
                min(scenario.duration_s, MAX_REPLAY_S),
                tb.config,
                seed=seed,
                context=scenario,
            )

    async def deploy_variant(self, ab_id: str, name: str, config: FleetConfig) -> str:
        """Start (or reconfigure) the variation's own testbed; its nginx URL."""
        async with self.ab_lock:
            tbs = self.variants.setdefault(ab_id, {})
            if name not in tbs:
                tbs[name] = await self._start(config)
            elif tbs[name].config != config:
                await asyncio.to_thread(tbs[name].apply, config)
            return tbs[name].url

    async def measure_split(
        self, ab_id: str, weights: dict[str, float], visits: int, scenario: Scenario, seed: int
    ) -> list[ArmStats]:
        """Replay one stream, each visit sent to a variation's testbed drawn by ``weights``;
        conversions are drawn from each visit's real latency (``visits`` is not used: the
        scenario's rate and duration set the traffic)."""
        tbs = self.variants.get(ab_id, {})
        missing = sorted(set(weights) - set(tbs))
        if missing:
            raise KeyError(f"variations {missing} of {ab_id} are not deployed")
        got, _ = await generate_split(
            {name: tbs[name].url for name in weights},
            weights,
            scenario.pattern,
            self._rate(scenario),
            min(scenario.duration_s, MAX_REPLAY_S),
            seed=seed,
            context=scenario,
        )
        rng = random.Random(seed)
        value = value_factor(scenario)
        return [arm_stats(name, got[name], value, rng) for name in weights]

    async def retire(self, ab_id: str) -> None:
        """Stop the A/B test's testbeds."""
        async with self.ab_lock:
            for tb in self.variants.pop(ab_id, {}).values():
                await asyncio.to_thread(tb.stop)

    async def close(self) -> None:
        """Stop every testbed this driver started (not a testbed it was given)."""
        for ab_id in list(self.variants):
            await self.retire(ab_id)
        async with self.lock:
            for tb in self.fleets.values():
                await asyncio.to_thread(tb.stop)
            self.fleets.clear()


def driver_from_settings(settings: Settings, params: SimParams | None = None) -> FleetDriver:
    """The fleet driver the settings choose: ``sim`` (the calibrated simulator) or ``testbed``
    (real nginx testbeds on loopback, ports from ``fleet_testbed_base_port`` if set)."""
    if settings.fleet_driver == "testbed":
        base = settings.fleet_testbed_base_port
        return TestbedFleet(
            max_rate_rps=settings.fleet_testbed_max_rate_rps,
            ports=PortRange(base) if base else None,
        )
    return SimFleet(params)
