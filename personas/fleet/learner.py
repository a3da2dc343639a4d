"""A contextual bandit (linear Thompson sampling) that learns the fleet persona.

Each context (traffic pattern) has a Bayesian linear model of the objective over features of
a configuration: one-hot attribute values and their pairwise interactions. Every round it
samples a parameter vector from the posterior and plays the configuration that is best under
the sample. The persona's probabilistic weights per attribute are the frequencies of each value
in the best configuration across posterior samples; its confidence is how often the posterior
mean's best configuration wins. Randomness comes only from the seeded generator given.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime

import numpy as np

from personas.fleet.abtest import ArmStats
from personas.fleet.config import ATTRIBUTES, DOMAIN, FleetConfig, all_configs
from personas.fleet.objective import Weights
from personas.fleet.persona import FleetPersona, Guard


def features(c: FleetConfig) -> np.ndarray:
    """Bias, one-hot attribute values, and one-hot pairs of attribute values (shared)."""
    hot = [[1.0 if getattr(c, a) == v else 0.0 for v in DOMAIN[a]] for a in ATTRIBUTES]
    pairs = [np.outer(x, y).ravel() for x, y in itertools.combinations(hot, 2)]
    return np.concatenate([[1.0], *map(np.array, hot), *pairs])


ARMS = all_configs()
_BASE = np.stack([features(c) for c in ARMS])
#: Shared features plus one indicator per arm, so the model can fit any objective exactly.
X = np.hstack([_BASE, np.eye(len(ARMS)) * 0.5])
_ROW = {c: i for i, c in enumerate(ARMS)}


class ThompsonBandit:
    """Linear Thompson sampling, one Bayesian linear posterior per context.

    The posterior covariance is kept by rank-one (Sherman-Morrison) updates; each round
    samples every arm's objective from its posterior marginal and plays the best sample.
    """

    def __init__(self, seed: int, noise: float = 0.1, prior: float = 0.3) -> None:
        self.rng = np.random.default_rng(seed)
        self.noise = noise
        self.prior = prior
        self.models: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.observations: dict[str, int] = {}

    def _model(self, context: str) -> tuple[np.ndarray, np.ndarray]:
        if context not in self.models:
            var = np.full(X.shape[1], self.prior)
            var[0] = 100.0  # the bias: the objective's level is unknown
            self.models[context] = (np.diag(var), np.zeros(X.shape[1]))
        return self.models[context]

    def _arms(self, context: str) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of every arm's objective."""
        cov, b = self._model(context)
        mean = X @ (cov @ b)
        sd = np.sqrt(np.maximum(((X @ cov) * X).sum(axis=1), 1e-12))
        return mean, sd

    def choose(self, context: str) -> FleetConfig:
        """The configuration to play next (best under one posterior sample)."""
        mean, sd = self._arms(context)
        return ARMS[int(np.argmax(mean + sd * self.rng.standard_normal(len(ARMS))))]

    def update(self, context: str, config: FleetConfig, reward: float) -> None:
        """Add one observed reward."""
        cov, b = self._model(context)
        x = X[_ROW[config]] / self.noise
        cx = cov @ x
        cov = cov - np.outer(cx, cx) / (1.0 + x @ cx)
        self.models[context] = (cov, b + reward * x / self.noise)
        self.observations[context] = self.observations.get(context, 0) + 1

    def best(self, context: str) -> FleetConfig:
        """The configuration best under the posterior mean."""
        mean, _ = self._arms(context)
        return ARMS[int(np.argmax(mean))]

    def persona(
        self,
        fleet_id: str,
        context: str,
        weights: Weights,
        *,
        author: str,
        created_at: datetime,
        sources: list[str],
        intents: list[str] | None = None,
        version: int = 1,
        samples: int = 200,
        guard: Guard | None = None,
    ) -> FleetPersona:
        """The persona learned so far for ``context``."""
        mean, sd = self._arms(context)
        draws = mean[:, None] + sd[:, None] * self.rng.standard_normal((len(ARMS), samples))
        winners = np.argmax(draws, axis=0)
        best = int(np.argmax(mean))
        dist = {a: {str(v): 0.0 for v in DOMAIN[a]} for a in ATTRIBUTES}
        for w in winners:
            for a in ATTRIBUTES:
                dist[a][str(getattr(ARMS[int(w)], a))] += 1.0 / samples
        return FleetPersona(
            fleet_id=fleet_id,
            version=version,
            created_at=created_at,
            author=author,
            input_sources=sources,
            intents=intents or [],
            context=context,
            weights=weights,
            attribute_weights={a: {k: round(p, 4) for k, p in d.items()} for a, d in dist.items()},
            optimum=ARMS[best],
            confidence=float(np.mean(winners == best)),
            guard=guard or Guard(),
            expected_objective=float(mean[best]),
        )


def learn(
    bandit: ThompsonBandit,
    context: str,
    reward: Callable[[FleetConfig], float],
    rounds: int,
    on_round: Callable[[int, FleetConfig, float], None] | None = None,
) -> None:
    """Play ``rounds`` rounds: choose, observe ``reward(config)``, update."""
    for t in range(rounds):
        c = bandit.choose(context)
        r = reward(c)
        bandit.update(context, c, r)
        if on_round is not None:
            on_round(t, c, r)


def retrain_from_ab(
    bandit: ThompsonBandit,
    context: str,
    variants: dict[str, FleetConfig],
    arms: list[ArmStats],
    weights: Weights,
    repeats: int = 5,
) -> None:
    """Feed an A/B test's results back to the learner.

    Each variation's reward is its revenue per visit (weighted) minus its cost, counted
    ``repeats`` times because an A/B arm aggregates many visits.
    """
    for arm in arms:
        if arm.visits == 0 or arm.name not in variants:
            continue
        c = variants[arm.name]
        reward = (
            weights.revenue * arm.revenue / arm.visits - weights.cost * c.replicas * c.cpu_share
        )
        for _ in range(repeats):
            bandit.update(context, c, reward)
