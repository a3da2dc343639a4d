"""A calibrated analytic simulator of the testbed fleet (pure, seeded, fast).

Each replica is a queue whose service time is ``overhead + miss * work / cpu_share``, slowed by
CPU contention when the fleet's demand exceeds the cores available. Cache hit rates follow the
key popularity (LRU: the hottest keys a replica sees; TTL: renewal per key; hash balancing
partitions the keys so replicas cache more of them, at the price of imbalance). The pattern's
rate is simulated in slices, carrying over backlog when a replica is overloaded; requests
slower than the load generator's timeout are errors. The traffic model gives conversion and
revenue as for the testbed. The scenario's context (``personas.fleet.context``) scales the rate
(time of day, campaign), adds its region's network latency to every visit and scales the value
of a conversion (campaign); its defaults leave the testbed's measurements as they are.
"""

from __future__ import annotations

import math
import random

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from personas.fleet.config import FleetConfig
from personas.fleet.context import FleetContext, network_ms, traffic_factor, value_factor
from personas.fleet.objective import Metrics, business
from personas.fleet.patterns import KEYS, ZIPF_S, mobile_share, rate_factor

LRU_SIZE = 16
TTL_S = 1.0
TIMEOUT_MS = 2000.0
SLICES = 20
_QUANTILES = (np.arange(40) + 0.5) / 40


MAX_RATE_RPS = 100_000.0
"""The highest base rate a scenario may ask for."""
MAX_DURATION_S = 3_600.0
"""The longest one observation may last."""


class SimParams(BaseModel):
    """Calibrated parameters of the simulator."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    work_ms: float = Field(default=2.5, gt=0)
    overhead_ms: float = Field(default=1.0, ge=0)
    cores: float = Field(default=1.5, gt=0)
    noise: float = Field(default=0.05, ge=0)


class Scenario(FleetContext):
    """A traffic scenario: its context (pattern, hour, region, campaign), the base rate and
    the observation's duration."""

    rate_rps: float = Field(default=100.0, gt=0, le=MAX_RATE_RPS, allow_inf_nan=False)
    duration_s: float = Field(default=3.0, gt=0, le=MAX_DURATION_S, allow_inf_nan=False)


def _popularity() -> np.ndarray:
    raw = 1.0 / (np.arange(KEYS) + 1.0) ** ZIPF_S
    return np.asarray(raw / raw.sum())


def _partition(replicas: int, balancer: str) -> list[np.ndarray]:
    """Key popularity seen by each replica (hash partitions keys; others share all)."""
    pop = _popularity()
    if balancer != "hash" or replicas == 1:
        return [pop / replicas for _ in range(replicas)]
    owner = np.array([random.Random(k).randrange(replicas) for k in range(KEYS)])
    return [np.where(owner == r, pop, 0.0) for r in range(replicas)]


def _miss(keys: np.ndarray, cache: str, rate: float) -> float:
    """Miss ratio of one replica whose key arrival fractions are ``keys`` (sum = its share)."""
    share = keys.sum()
    if cache == "none" or share <= 0:
        return 1.0
    p = keys / share
    if cache == "lru":
        return float(1.0 - np.sort(p)[::-1][:LRU_SIZE].sum())
    lam = keys * rate
    return float((p / (1.0 + lam * TTL_S)).sum())


def simulate(
    config: FleetConfig, scenario: Scenario, params: SimParams, seed: int | None = None
) -> Metrics:
    """Metrics of one observation of the fleet in ``config`` under ``scenario``."""
    rng = random.Random(seed)
    parts = _partition(config.replicas, config.balancer)
    base = scenario.rate_rps * traffic_factor(scenario)
    net = network_ms(scenario)
    dt = scenario.duration_s / SLICES
    backlog = [0.0] * config.replicas
    visits: list[tuple[float, float]] = []  # (latency_ms, weight)
    errors = total = 0.0
    for i in range(SLICES):
        rate = base * rate_factor(scenario.pattern, (i + 0.5) / SLICES)
        misses = [_miss(k, config.cache, rate) for k in parts]
        demand = sum(
            rate * k.sum() * m * params.work_ms / 1000 for k, m in zip(parts, misses, strict=True)
        )
        slow = max(1.0, demand / params.cores)
        for r, keys in enumerate(parts):
            lam = rate * keys.sum() / 1000.0  # per ms
            s = params.overhead_ms + misses[r] * params.work_ms * slow / config.cpu_share
            mu = 1.0 / s
            backlog[r] = max(0.0, backlog[r] + (lam - mu) * dt * 1000.0)
            rho = min(lam / mu, 0.95)
            mean = s / (1.0 - rho)
            if config.balancer == "least_conn" and config.replicas > 1:
                mean = s + (mean - s) * 0.7
            lat = net + backlog[r] / mu + mean * -np.log(1.0 - _QUANTILES)
            w = lam * dt * 1000.0 / len(lat)
            bad = lat > TIMEOUT_MS
            errors += w * bad.sum()
            total += w * len(lat)
            visits += [(float(x), w) for x in lat[~bad]]
    noise = math.exp(rng.gauss(0.0, params.noise)) if seed is not None else 1.0
    lats = np.array([v[0] for v in visits] or [TIMEOUT_MS]) * noise
    weights = np.array([v[1] for v in visits] or [1.0])
    order = np.argsort(lats)
    cum = np.cumsum(weights[order]) / weights.sum()

    def pct(q: float) -> float:
        return float(lats[order][min(len(cum) - 1, int(np.searchsorted(cum, q)))])

    share = mobile_share(scenario.pattern)
    err = errors / total if total else 0.0
    sample = [(pct((j + 0.5) / 20), d, True) for j in range(20) for d in ("mobile", "desktop")]
    conv_m, rev_m = business([s for s in sample if s[1] == "mobile"])
    conv_d, rev_d = business([s for s in sample if s[1] == "desktop"])
    ok = 1.0 - err
    value = value_factor(scenario)
    return Metrics(
        p50_ms=pct(0.5),
        p95_ms=pct(0.95),
        p99_ms=pct(0.99),
        throughput_rps=total / scenario.duration_s * ok,
        error_rate=min(1.0, err),
        mobile_share=share,
        conversion=ok * (share * conv_m + (1 - share) * conv_d),
        revenue_per_visit=ok * value * (share * rev_m + (1 - share) * rev_d),
        cost_units=config.replicas * config.cpu_share,
        requests=int(total),
    )
