"""A contextual bandit (linear Thompson sampling) that learns the fleet persona.

One Bayesian linear model of the objective covers every context. An arm in a context has the
features of its configuration (bias, one-hot attribute values, their pairwise interactions and
one indicator per configuration: shared by all contexts) and the configuration's main features
(bias, one-hot values, CPU x replicas and cache x balancer pairs) crossed with the context's
features (pattern, day-part, region, campaign, load level, network latency; see
``personas.fleet.context``). What is learned in one context thus informs every context that
shares its parts or its load, and the crossed terms learn how contexts differ. The first
``OWN_CONTEXTS`` contexts met also get their own indicator per configuration (a residual that
lets the model fit any objective there exactly, as one model per context would). Every round the
learner samples every arm's objective from its posterior marginal and plays the best sample.
The persona's probabilistic weights per attribute are the frequencies of each value in the best
configuration across posterior samples; its confidence is how often the posterior mean's best
configuration wins. Randomness comes only from the seeded generator given.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime

import numpy as np

from personas.fleet.abtest import ArmStats
from personas.fleet.config import ATTRIBUTES, DOMAIN, FleetConfig, all_configs
from personas.fleet.context import FleetContext, as_context, context_features
from personas.fleet.objective import Weights
from personas.fleet.persona import FleetPersona, Guard

ContextLike = FleetContext | str


def _hot(c: FleetConfig) -> list[np.ndarray]:
    return [np.array([1.0 if getattr(c, a) == v else 0.0 for v in DOMAIN[a]]) for a in ATTRIBUTES]


def features(c: FleetConfig) -> np.ndarray:
    """Bias, one-hot attribute values, and one-hot pairs of attribute values (shared)."""
    hot = _hot(c)
    pairs = [np.outer(x, y).ravel() for x, y in itertools.combinations(hot, 2)]
    return np.concatenate([[1.0], *hot, *pairs])


def main_features(c: FleetConfig) -> np.ndarray:
    """The features crossed with the context: bias, one-hots, CPU x replicas, cache x balancer."""
    cpu, cache, balancer, replicas = _hot(c)
    return np.concatenate(
        [
            [1.0],
            cpu,
            cache,
            balancer,
            replicas,
            np.outer(cpu, replicas).ravel(),
            np.outer(cache, balancer).ravel(),
        ]
    )


ARMS = all_configs()
_SHARED = np.hstack([np.stack([features(c) for c in ARMS]), np.eye(len(ARMS)) * 0.5])
_MAIN = np.stack([main_features(c) for c in ARMS])
_ROW = {c: i for i, c in enumerate(ARMS)}
_N_CTX = len(context_features(FleetContext()))
DIM = _SHARED.shape[1] + _MAIN.shape[1] * _N_CTX
#: Contexts that get their own residual block (bounds the model's size).
OWN_CONTEXTS = 8


def arm_matrix(ctx: FleetContext) -> np.ndarray:
    """Every arm's feature vector in ``ctx`` (rows in the order of ``ARMS``)."""
    crossed = np.einsum("ai,j->aij", _MAIN, context_features(ctx)).reshape(len(ARMS), -1)
    return np.hstack([_SHARED, crossed])


def _prior(shared: float, crossed: float) -> np.ndarray:
    var = np.full(DIM, shared)
    var[0] = 100.0  # the objective's level is unknown ...
    var[_SHARED.shape[1] :] = crossed
    level = _SHARED.shape[1] + np.arange(_N_CTX) * _MAIN.shape[1]
    var[level] = 10.0  # ... and differs between contexts
    return var


class ThompsonBandit:
    """Linear Thompson sampling over configurations crossed with contexts.

    The posterior covariance is kept by rank-one (Sherman-Morrison) updates, and so is each
    seen context's vector of arm variances, so a round costs O(dim^2), not O(arms * dim^2).
    """

    def __init__(
        self, seed: int, noise: float = 0.1, prior: float = 0.3, cross_prior: float = 0.05
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.noise = noise
        self.prior = prior
        self.cov = np.diag(_prior(prior, cross_prior))
        self.b = np.zeros(DIM)
        self.theta = np.zeros(DIM)
        self.cache: dict[FleetContext, tuple[np.ndarray, np.ndarray]] = {}
        self.own = 0
        self.observations: dict[str, int] = {}

    def _grow(self) -> np.ndarray:
        """Add a residual block (one indicator per arm) for a new context; its columns."""
        n, k = len(self.b), len(ARMS)
        cov = np.zeros((n + k, n + k))
        cov[:n, :n] = self.cov
        cov[n:, n:] = np.eye(k) * self.prior
        self.cov = cov
        self.b = np.concatenate([self.b, np.zeros(k)])
        self.theta = np.concatenate([self.theta, np.zeros(k)])
        pad = np.zeros((k, k))
        self.cache = {c: (np.hstack([xs, pad]), var) for c, (xs, var) in self.cache.items()}
        self.own += 1
        return np.eye(k) * 0.5

    def _ctx(self, context: ContextLike) -> tuple[np.ndarray, np.ndarray]:
        ctx = as_context(context)
        if ctx not in self.cache:
            xs = arm_matrix(ctx)
            others = np.zeros((len(ARMS), len(self.b) - DIM))  # other contexts' residuals
            own = self._grow() if self.own < OWN_CONTEXTS else np.zeros((len(ARMS), 0))
            xs = np.hstack([xs, others, own])
            self.cache[ctx] = (xs, ((xs @ self.cov) * xs).sum(axis=1))
        return self.cache[ctx]

    def _arms(self, context: ContextLike) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of every arm's objective."""
        xs, var = self._ctx(context)
        return xs @ self.theta, np.sqrt(np.maximum(var, 1e-12))

    def choose(self, context: ContextLike) -> FleetConfig:
        """The configuration to play next (best under one posterior sample)."""
        mean, sd = self._arms(context)
        return ARMS[int(np.argmax(mean + sd * self.rng.standard_normal(len(ARMS))))]

    def update(self, context: ContextLike, config: FleetConfig, reward: float) -> None:
        """Add one observed reward of ``config`` in ``context``."""
        xs, _ = self._ctx(context)
        x = xs[_ROW[config]] / self.noise
        cx = self.cov @ x
        denom = 1.0 + x @ cx
        self.cov -= np.outer(cx, cx) / denom
        for key, (other, var) in self.cache.items():
            self.cache[key] = (other, var - (other @ cx) ** 2 / denom)
        self.b += reward * x / self.noise
        self.theta = self.cov @ self.b
        name = as_context(context).key()
        self.observations[name] = self.observations.get(name, 0) + 1

    def best(self, context: ContextLike) -> FleetConfig:
        """The configuration best under the posterior mean."""
        mean, _ = self._arms(context)
        return ARMS[int(np.argmax(mean))]

    def persona(
        self,
        fleet_id: str,
        context: ContextLike,
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
        """The persona learned so far for ``context`` (which it records)."""
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
            context=as_context(context),
            weights=weights,
            attribute_weights={a: {k: round(p, 4) for k, p in d.items()} for a, d in dist.items()},
            optimum=ARMS[best],
            confidence=float(np.mean(winners == best)),
            guard=guard or Guard(),
            expected_objective=float(mean[best]),
        )


def learn(
    bandit: ThompsonBandit,
    context: ContextLike,
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
    context: ContextLike,
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
