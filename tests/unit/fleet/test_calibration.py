"""Calibration recovers a known simulator, and regret is measured against the oracle."""

from __future__ import annotations

import pytest

from personas.fleet.calibration import Measurement, calibrate, error_pct
from personas.fleet.config import DEFAULT_CONFIG, FleetConfig
from personas.fleet.evaluation import regret_run
from personas.fleet.objective import compile_weights
from personas.fleet.simulator import Scenario, SimParams, simulate

PROBES = (
    DEFAULT_CONFIG,
    FleetConfig(cpu_share=1.0, cache="lru", balancer="hash", replicas=3),
    FleetConfig(cpu_share=0.25, cache="ttl", balancer="least_conn", replicas=2),
)


def test_calibration_fits_measurements_of_a_known_fleet() -> None:
    truth = SimParams(work_ms=4.0, overhead_ms=1.5, cores=1.2)
    sc = Scenario(rate_rps=150)
    data = [Measurement(config=c, scenario=sc, metrics=simulate(c, sc, truth)) for c in PROBES]
    fitted = calibrate(data)
    assert fitted.error_pct < 5.0
    assert fitted.error_pct == pytest.approx(error_pct(fitted.params, data))
    assert error_pct(SimParams(work_ms=16.0, overhead_ms=4.0, cores=0.3), data) > 50.0
    with pytest.raises(ValueError, match="at least one"):
        calibrate([])


def test_regret_against_the_oracle_is_small_after_learning() -> None:
    report = regret_run(
        Scenario(pattern="surge", rate_rps=150),
        compile_weights(["prepare for a traffic surge"]),
        SimParams(),
        rounds=150,
        seed=2,
    )
    assert report.regret_vs_oracle_pct < 20.0
    assert report.regret_vs_static_default_pct < 0  # far better than the overloaded default
    assert report.rounds_to_within_5pct <= 150
