"""Regret of the learner against the oracle and the static default (pure, seeded)."""

from __future__ import annotations

from pydantic import BaseModel

from personas.fleet.config import DEFAULT_CONFIG
from personas.fleet.environment import SimEnvironment
from personas.fleet.learner import ThompsonBandit, learn
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
    return play(
        ThompsonBandit(seed=seed), SimEnvironment(scenario, weights, params, seed=seed), rounds
    )


def play(bandit: ThompsonBandit, env: SimEnvironment, rounds: int) -> RegretReport:
    """Play ``rounds`` rounds of ``bandit`` (possibly already trained) in ``env``'s context."""
    ctx = env.scenario.context()
    oracle, best = env.oracle()
    default = env.expected(DEFAULT_CONFIG)
    lost_oracle = lost_default = 0.0
    within_since: int | None = None
    for t in range(rounds):
        c = bandit.choose(ctx)
        bandit.update(ctx, c, env.reward(c))
        got = env.expected(c)
        lost_oracle += best - got
        lost_default += default - got
        near = env.expected(bandit.best(ctx)) >= best - 0.05 * abs(best)
        if near and within_since is None:
            within_since = t + 1
        elif not near:
            within_since = None
    return RegretReport(
        pattern=ctx.key(),
        oracle=oracle.key(),
        learned=bandit.best(ctx).key(),
        regret_vs_oracle_pct=100.0 * lost_oracle / (rounds * abs(best)),
        regret_vs_static_default_pct=100.0 * lost_default / (rounds * abs(default)),
        rounds_to_within_5pct=within_since if within_since is not None else rounds + 1,
    )


class TransferReport(BaseModel):
    """Rounds to within 5 % of the oracle in an unseen context: cold start vs trained elsewhere."""

    target: str
    trained_on: list[str]
    cold_rounds: int
    warm_rounds: int
    cold_regret_pct: float
    warm_regret_pct: float


def transfer_run(
    train: list[Scenario],
    target: Scenario,
    weights: Weights,
    params: SimParams,
    *,
    train_rounds: int,
    rounds: int,
    seed: int,
) -> TransferReport:
    """Learn in the ``train`` contexts, then in the unseen ``target``; compare to a cold start."""
    warm = ThompsonBandit(seed=seed)
    for i, sc in enumerate(train):
        env = SimEnvironment(sc, weights, params, seed=seed + 1 + i)
        learn(warm, sc.context(), env.reward, train_rounds)
    cold = play(
        ThompsonBandit(seed=seed), SimEnvironment(target, weights, params, seed=seed), rounds
    )
    hot = play(warm, SimEnvironment(target, weights, params, seed=seed), rounds)
    return TransferReport(
        target=target.context().key(),
        trained_on=[sc.context().key() for sc in train],
        cold_rounds=cold.rounds_to_within_5pct,
        warm_rounds=hot.rounds_to_within_5pct,
        cold_regret_pct=cold.regret_vs_oracle_pct,
        warm_regret_pct=hot.regret_vs_oracle_pct,
    )
