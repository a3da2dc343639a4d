"""The simulated fleet as a bandit environment: expected objectives and noisy rewards."""

from __future__ import annotations

import random

from personas.fleet.config import FleetConfig, all_configs
from personas.fleet.objective import Weights, score
from personas.fleet.simulator import Scenario, SimParams, simulate


class SimEnvironment:
    """Rewards of configurations in one scenario, with Gaussian observation noise (seeded)."""

    def __init__(
        self,
        scenario: Scenario,
        weights: Weights,
        params: SimParams | None = None,
        noise: float = 0.05,
        seed: int = 0,
    ) -> None:
        self.scenario = scenario
        self.weights = weights
        self.params = params or SimParams()
        self.noise = noise
        self.rng = random.Random(seed)
        self._expected: dict[FleetConfig, float] = {}

    def expected(self, c: FleetConfig) -> float:
        """The noise-free objective of ``c`` (cached)."""
        if c not in self._expected:
            self._expected[c] = score(simulate(c, self.scenario, self.params), self.weights)
        return self._expected[c]

    def reward(self, c: FleetConfig) -> float:
        """One noisy observation of the objective of ``c``."""
        return self.expected(c) + self.rng.gauss(0.0, self.noise)

    def oracle(self) -> tuple[FleetConfig, float]:
        """The best fixed configuration in hindsight and its objective."""
        best = max(all_configs(), key=self.expected)
        return best, self.expected(best)
