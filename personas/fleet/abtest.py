"""A/B decisions: Beta posteriors on conversion and the probability of being best."""

from __future__ import annotations

import random

from pydantic import BaseModel, Field


class ArmStats(BaseModel):
    """Visits and conversions observed for one variation."""

    name: str
    visits: int = Field(default=0, ge=0)
    conversions: int = Field(default=0, ge=0)
    revenue: float = 0.0


def prob_best(arms: list[ArmStats], seed: int, draws: int = 4000) -> dict[str, float]:
    """Monte Carlo probability that each arm has the highest conversion rate (Beta(1,1) prior)."""
    rng = random.Random(seed)
    wins = dict.fromkeys((a.name for a in arms), 0)
    for _ in range(draws):
        samples = [
            (rng.betavariate(1 + a.conversions, 1 + a.visits - a.conversions), a.name) for a in arms
        ]
        wins[max(samples)[1]] += 1
    return {k: v / draws for k, v in wins.items()}


def decide(
    arms: list[ArmStats], seed: int, threshold: float = 0.95
) -> tuple[str | None, dict[str, float]]:
    """The arm to promote (probability of being best above ``threshold``) or None yet."""
    p = prob_best(arms, seed)
    name, best = max(p.items(), key=lambda kv: kv[1])
    return (name if best >= threshold else None), p


def split(weights: dict[str, float], visits: int) -> dict[str, int]:
    """Visits per variation under a traffic split (weights normalised; remainder to the first)."""
    if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("a traffic split needs non-negative weights with a positive sum")
    total = sum(weights.values())
    out = {k: int(visits * w / total) for k, w in weights.items()}
    first = next(iter(out))
    out[first] += visits - sum(out.values())
    return out
