"""Automatic top-up: how much to draw from which account, within the funding limit."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TopUpPolicy(BaseModel):
    """Top up when the balance is below ``threshold``, towards ``target`` (micro-units)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: int = Field(ge=0)
    target: int = Field(ge=0)


class Draw(BaseModel):
    """An amount to move from one account into the persona's balance."""

    model_config = ConfigDict(frozen=True)

    account_id: str
    amount: int = Field(gt=0)


class TopUpPlan(BaseModel):
    """The draws of a top-up, and what is still missing when the sources ran dry."""

    model_config = ConfigDict(frozen=True)

    draws: tuple[Draw, ...]
    wanted: int
    shortfall: int

    @property
    def total(self) -> int:
        """The sum of the draws."""
        return sum(d.amount for d in self.draws)


def plan_top_up(
    balance: int,
    policy: TopUpPolicy,
    funding_limit: int,
    available: list[tuple[str, int]],
) -> TopUpPlan:
    """Draw from ``available`` (account, balance) in order: the entity budget, then sources.

    Nothing is drawn unless ``balance < policy.threshold``. The persona's balance after the
    top-up never exceeds ``min(policy.target, funding_limit)``.
    """
    goal = min(policy.target, funding_limit)
    if balance >= policy.threshold or balance >= goal:
        return TopUpPlan(draws=(), wanted=0, shortfall=0)
    wanted = goal - balance
    remaining = wanted
    draws: list[Draw] = []
    for account_id, funds in available:
        if remaining == 0:
            break
        take = min(remaining, max(0, funds))
        if take > 0:
            draws.append(Draw(account_id=account_id, amount=take))
            remaining -= take
    return TopUpPlan(draws=tuple(draws), wanted=wanted, shortfall=remaining)
