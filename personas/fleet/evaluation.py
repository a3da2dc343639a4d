"""Regret of the learner against the oracle and the static default (pure, seeded)."""

from __future__ import annotations

from pydantic import BaseModel

from personas.fleet.config import DEFAULT_CONFIG
from personas.fleet.environment import SimEnvironment
from personas.fleet.learner import ThompsonBandit
from personas.fleet.objective import Weights
from personas.fleet.simulator import Scenario, SimParams


class RegretReport(BaseModel):
    """Cumulative objective lost (in % of the reference per round) and rounds to near-oracle."""

    pattern: str
    oracle: str
    learned: str
    regret_vs_oracle_pct: float
    regret_vs_static_default_pct: float
    rounds_to_within_5pct: int


def regret_run(
    scenario: Scenario, weights: Weights, params: SimParams, rounds: int, seed: int
) -> RegretReport:
    """Play ``rounds`` of Thompson sampling and measure its regret.

    ``rounds_to_within_5pct`` is the first round from which the posterior-mean best
    configuration stays within 5 % of the oracle's objective (``rounds`` + 1 if never).
    """
    env = SimEnvironment(scenario, weights, params, seed=seed)
    oracle, best = env.oracle()
    default = env.expected(DEFAULT_CONFIG)
    bandit = ThompsonBandit(seed=seed)
    lost_oracle = lost_default = 0.0
    within_since: int | None = None
    for t in range(rounds):
        c = bandit.choose(scenario.pattern)
        bandit.update(scenario.pattern, c, env.reward(c))
        got = env.expected(c)
        lost_oracle += best - got
        lost_default += default - got
        near = env.expected(bandit.best(scenario.pattern)) >= best - 0.05 * abs(best)
        if near and within_since is None:
            within_since = t + 1
        elif not near:
            within_since = None
    return RegretReport(
        pattern=scenario.pattern,
        oracle=oracle.key(),
        learned=bandit.best(scenario.pattern).key(),
        regret_vs_oracle_pct=100.0 * lost_oracle / (rounds * abs(best)),
        regret_vs_static_default_pct=100.0 * lost_default / (rounds * abs(default)),
        rounds_to_within_5pct=within_since if within_since is not None else rounds + 1,
    )
