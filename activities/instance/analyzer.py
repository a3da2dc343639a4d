"""Fitting the workload analyzer on the shipped dataset, and measuring its held-out error.

Rows whose index is a multiple of 5 (20%) are held out; the rest fit a least-squares
log-linear model per resource. Held-out MAPE and the 90% band's coverage are reported.
"""

from __future__ import annotations

import csv
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from personas.instance.analyzer import TARGETS, Z_90, AnalyzerModel, predict_peaks
from personas.instance.workload import WorkloadSpec, features

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
DATASET = DATA_DIR / "workloads.csv"
SPEC_FIELDS = (
    "requests_per_s",
    "payload_kb",
    "data_gb",
    "read_ratio",
    "pipeline_stages",
    "pattern",
)


def load_rows(path: Path = DATASET) -> list[dict[str, Any]]:
    """The dataset's rows as dictionaries."""
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _spec(row: dict[str, Any]) -> WorkloadSpec:
    return WorkloadSpec.model_validate({k: row[k] for k in SPEC_FIELDS})


def fit(rows: list[dict[str, Any]]) -> AnalyzerModel:
    """Fit on 80% of ``rows`` and measure error and band coverage on the other 20%."""
    train = [r for i, r in enumerate(rows) if i % 5]
    test = [r for i, r in enumerate(rows) if i % 5 == 0]
    x = np.array([features(_spec(r)) for r in train])
    weights: dict[str, tuple[float, ...]] = {}
    sigma: dict[str, float] = {}
    for target in TARGETS:
        y = np.log(np.array([float(r[target]) for r in train]))
        w, *_ = np.linalg.lstsq(x, y, rcond=None)
        weights[target] = tuple(float(v) for v in w)
        sigma[target] = float(np.std(y - x @ w))
    partial = AnalyzerModel(
        weights=weights,
        sigma=sigma,
        heldout_mape_pct={t: 0.0 for t in TARGETS},
        heldout_band_coverage=0.0,
        train_rows=len(train),
        test_rows=len(test),
    )
    errors: dict[str, list[float]] = {t: [] for t in TARGETS}
    inside = 0
    for row in test:
        peaks = predict_peaks(partial, _spec(row))
        for t in TARGETS:
            actual = float(row[t])
            errors[t].append(abs(peaks[t] - actual) / actual)
            spread = math.exp(Z_90 * sigma[t])
            inside += peaks[t] / spread <= actual <= peaks[t] * spread
    return partial.model_copy(
        update={
            "heldout_mape_pct": {t: round(100 * sum(e) / len(e), 2) for t, e in errors.items()},
            "heldout_band_coverage": round(inside / (len(test) * len(TARGETS)), 3),
        }
    )


@lru_cache(maxsize=4)
def shipped_model(path: Path = DATASET) -> AnalyzerModel:
    """The model fitted on the shipped dataset (fitted once per process)."""
    return fit(load_rows(path))


def _raw_features(spec: WorkloadSpec) -> list[float]:
    pattern = [1.0 if spec.pattern.value == p else 0.0 for p in ("steady", "diurnal", "bursty")]
    return [
        math.log1p(spec.requests_per_s),
        math.log1p(spec.payload_kb),
        math.log1p(spec.data_gb),
        spec.read_ratio,
        float(spec.pipeline_stages),
        *pattern,
    ]


def baseline_mape(rows: list[dict[str, Any]], seed: int = 0) -> dict[str, float]:
    """Held-out MAPE per resource of a stronger-family baseline on the same split as
    :func:`fit`: scikit-learn's gradient-boosted trees (default settings, fixed seed) on the
    description's logs, pattern and read share, predicting ``log(peak)``.

    The log-linear fit is kept (see data/README.md): over the four resources its held-out
    MAPE is lower (13.5 % against 13.8 %), the trees win on memory and IOPS but lose on CPU
    and network, and the fit is a dot product with a calibrated band, pure and cheap to
    evaluate in the domain layer; the benchmark reports both side by side.
    """
    from sklearn.ensemble import GradientBoostingRegressor

    train = [r for i, r in enumerate(rows) if i % 5]
    test = [r for i, r in enumerate(rows) if i % 5 == 0]
    x = np.array([_raw_features(_spec(r)) for r in train])
    xt = np.array([_raw_features(_spec(r)) for r in test])
    out: dict[str, float] = {}
    for target in TARGETS:
        y = np.log(np.array([float(r[target]) for r in train]))
        model = GradientBoostingRegressor(random_state=seed).fit(x, y)
        predicted = np.exp(model.predict(xt))
        actual = np.array([float(r[target]) for r in test])
        out[target] = round(float(100 * np.mean(np.abs(predicted - actual) / actual)), 2)
    return out
