"""Traffic patterns shared by the load generator and the simulator (pure, seeded)."""

from __future__ import annotations

import math
import random
from typing import Literal

Pattern = Literal["steady", "daily", "surge", "mobile"]
PATTERNS: tuple[Pattern, ...] = ("steady", "daily", "surge", "mobile")
KEYS = 200
ZIPF_S = 1.1


def rate_factor(pattern: str, t: float) -> float:
    """Multiplier of the base request rate at normalised time ``t`` in [0, 1]."""
    if pattern == "daily":
        return 0.4 + 1.2 * math.sin(math.pi * t) ** 2
    if pattern == "surge":
        return 2.5 if 0.4 <= t < 0.7 else 1.0
    return 1.0


def mobile_share(pattern: str) -> float:
    """Share of visits from mobile devices."""
    return 0.8 if pattern == "mobile" else 0.3


def key_weights() -> list[float]:
    """Zipf popularity of the keys, normalised."""
    raw = [1.0 / (k + 1) ** ZIPF_S for k in range(KEYS)]
    total = sum(raw)
    return [w / total for w in raw]


def schedule(
    pattern: str, rate_rps: float, duration_s: float, seed: int
) -> list[tuple[float, int, str]]:
    """Open-loop arrivals ``(offset_s, key, device)`` over the duration (Poisson, seeded)."""
    rng = random.Random(seed)
    weights = key_weights()
    out: list[tuple[float, int, str]] = []
    t = 0.0
    peak = rate_rps * 2.5
    while True:
        t += rng.expovariate(peak)
        if t >= duration_s:
            return out
        if rng.random() * 2.5 > rate_factor(pattern, t / duration_s):
            continue
        key = rng.choices(range(KEYS), weights)[0]
        device = "mobile" if rng.random() < mobile_share(pattern) else "desktop"
        out.append((t, key, device))
