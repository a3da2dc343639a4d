"""A genetic algorithm over the configuration genome (pure; seeded ``random.Random``)."""

from __future__ import annotations

import random
from collections.abc import Callable

from personas.fleet.config import ATTRIBUTES, DOMAIN, FleetConfig


def mutate(c: FleetConfig, rng: random.Random, rate: float = 0.3) -> FleetConfig:
    """Each gene changes to a random allowed value with probability ``rate``."""
    return c.model_copy(
        update={a: rng.choice(DOMAIN[a]) for a in ATTRIBUTES if rng.random() < rate}
    )


def crossover(a: FleetConfig, b: FleetConfig, rng: random.Random) -> FleetConfig:
    """Uniform crossover of two genomes."""
    return a.model_copy(update={n: getattr(b, n) for n in ATTRIBUTES if rng.random() < 0.5})


def evolve(
    seeds: list[FleetConfig],
    fitness: Callable[[FleetConfig], float],
    rng: random.Random,
    generations: int = 10,
    size: int = 12,
) -> list[FleetConfig]:
    """Evolve a population from ``seeds``; return distinct genomes, fittest first."""
    if not seeds:
        raise ValueError("the genetic algorithm needs at least one seed genome")
    pop = list(seeds) + [mutate(rng.choice(seeds), rng, 0.6) for _ in range(size - len(seeds))]
    for _ in range(generations):
        ranked = sorted(set(pop), key=fitness, reverse=True)
        elite = ranked[: max(2, size // 4)]
        children: list[FleetConfig] = []
        while len(elite) + len(children) < size:
            # tournament selection
            p1 = max(rng.sample(ranked, min(3, len(ranked))), key=fitness)
            p2 = max(rng.sample(ranked, min(3, len(ranked))), key=fitness)
            children.append(mutate(crossover(p1, p2, rng), rng, 0.2))
        pop = elite + children
    return sorted(set(pop), key=fitness, reverse=True)
