"""The workload analyzer's fitted model and its prediction of resource time series.

The model is log-linear: for each resource, ``log(peak) = w . features(spec)``, fitted by
least squares on the shipped dataset (see activities/instance/analyzer.py). The band is
``exp(+-z * sigma)`` around the point, with ``sigma`` the residual deviation on training data.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from personas.instance.profiles import PerformanceProfile, Series
from personas.instance.workload import Pattern, WorkloadSpec, day_shape, features

TARGETS: tuple[str, ...] = ("cpu_cores", "memory_gib", "iops", "network_mbps")
Z_90 = 1.645


class AnalyzerModel(BaseModel):
    """Fitted coefficients, residual deviation and measured held-out error per resource."""

    model_config = ConfigDict(frozen=True)

    weights: dict[str, tuple[float, ...]]
    sigma: dict[str, float]
    heldout_mape_pct: dict[str, float]
    heldout_band_coverage: float
    train_rows: int
    test_rows: int

    @property
    def mape_pct(self) -> float:
        """Mean held-out absolute percentage error over the resources."""
        return sum(self.heldout_mape_pct.values()) / len(self.heldout_mape_pct)


class Prediction(BaseModel):
    """The predicted performance profile and how sure the model is."""

    model_config = ConfigDict(frozen=True)

    spec: WorkloadSpec
    performance: PerformanceProfile
    heldout_mape_pct: float


def predict_peaks(model: AnalyzerModel, spec: WorkloadSpec) -> dict[str, float]:
    """The model's point prediction of each resource's peak."""
    x = features(spec)
    return {
        t: max(0.0, math.exp(sum(w * f for w, f in zip(model.weights[t], x, strict=True))))
        for t in TARGETS
    }


def _series(peak: float, shape: tuple[float, ...], sigma: float) -> Series:
    points = tuple(round(peak * s, 4) for s in shape)
    spread = math.exp(Z_90 * sigma)
    return Series(
        points=points,
        lower=tuple(round(p / spread, 4) for p in points),
        upper=tuple(round(p * spread, 4) for p in points),
    )


def predict(model: AnalyzerModel, spec: WorkloadSpec) -> Prediction:
    """Resource time series over a day, with a 90% band, for the workload."""
    peaks = predict_peaks(model, spec)
    shape = day_shape(spec.pattern)
    flat = tuple(round(0.7 + 0.3 * s, 4) for s in shape)
    perf = PerformanceProfile(
        cpu_cores=_series(peaks["cpu_cores"], shape, model.sigma["cpu_cores"]),
        memory_gib=_series(peaks["memory_gib"], flat, model.sigma["memory_gib"]),
        iops=_series(peaks["iops"], shape, model.sigma["iops"]),
        network_mbps=_series(peaks["network_mbps"], shape, model.sigma["network_mbps"]),
        data_gb=spec.data_gb,
    )
    return Prediction(spec=spec, performance=perf, heldout_mape_pct=round(model.mape_pct, 2))


def flat_profile(
    cpu: float, memory: float, iops: float, network: float, data_gb: float
) -> PerformanceProfile:
    """A performance profile from peak levels, shaped like a diurnal day (for base personas)."""
    shape = day_shape(Pattern.DIURNAL)
    return PerformanceProfile(
        cpu_cores=Series(points=tuple(round(cpu * s, 4) for s in shape)),
        memory_gib=Series(points=tuple(round(memory * (0.7 + 0.3 * s), 4) for s in shape)),
        iops=Series(points=tuple(round(iops * s, 4) for s in shape)),
        network_mbps=Series(points=tuple(round(network * s, 4) for s in shape)),
        data_gb=data_gb,
    )
