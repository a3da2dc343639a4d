"""Calibrate the simulator against testbed measurements and report the calibration error."""

from __future__ import annotations

import itertools
import math

from pydantic import BaseModel, ConfigDict

from personas.fleet.config import FleetConfig
from personas.fleet.objective import Metrics
from personas.fleet.simulator import Scenario, SimParams, simulate

WORK_GRID = (1.0, 2.0, 4.0, 8.0, 16.0)
OVERHEAD_GRID = (0.5, 1.5, 4.0)
CORES_GRID = (0.3, 0.6, 1.2, 2.0)
REFINE_STEPS = (1.4, 1.15)


class Measurement(BaseModel):
    """One testbed observation: the configuration, the scenario, what was measured."""

    model_config = ConfigDict(frozen=True)

    config: FleetConfig
    scenario: Scenario
    metrics: Metrics


class Calibration(BaseModel):
    """Fitted parameters and the mean absolute percentage error of p50/p95 latency."""

    params: SimParams
    error_pct: float
    measurements: int


def error_pct(params: SimParams, data: list[Measurement]) -> float:
    """Mean absolute percentage error of simulated vs measured p50 and p95 latency."""
    errs: list[float] = []
    for m in data:
        sim = simulate(m.config, m.scenario, params)
        for got, want in ((sim.p50_ms, m.metrics.p50_ms), (sim.p95_ms, m.metrics.p95_ms)):
            errs.append(abs(got - want) / max(want, 1e-6))
    return 100.0 * sum(errs) / max(1, len(errs))


def _log_loss(params: SimParams, data: list[Measurement]) -> float:
    loss = 0.0
    for m in data:
        sim = simulate(m.config, m.scenario, params)
        for got, want in ((sim.p50_ms, m.metrics.p50_ms), (sim.p95_ms, m.metrics.p95_ms)):
            loss += abs(math.log(max(got, 0.01) / max(want, 0.01)))
    return loss


def calibrate(data: list[Measurement]) -> Calibration:
    """Grid-search, then refine coordinate-wise, the parameters that best fit ``data``
    (absolute error of log latency)."""
    if not data:
        raise ValueError("calibration needs at least one measurement")
    best = min(
        (
            SimParams(work_ms=w, overhead_ms=o, cores=c)
            for w, o, c in itertools.product(WORK_GRID, OVERHEAD_GRID, CORES_GRID)
        ),
        key=lambda p: _log_loss(p, data),
    )
    loss = _log_loss(best, data)
    for factor in REFINE_STEPS:
        for name in ("work_ms", "overhead_ms", "cores"):
            for f in (factor, 1.0 / factor):
                trial = best.model_copy(update={name: getattr(best, name) * f})
                trial_loss = _log_loss(trial, data)
                if trial_loss < loss:
                    best, loss = trial, trial_loss
    return Calibration(params=best, error_pct=error_pct(best, data), measurements=len(data))
