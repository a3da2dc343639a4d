"""Benchmark of instance negotiation: solve time, speedup over enumeration, cost gap, MAPE
of the kept analyzer beside its gradient-boosted baseline, and how exactly the workload-text
table is read.

    .venv/bin/python bench/negotiation.py --quick   # under a minute

Proposal generation (k=3: cheapest, balanced, best price-performance) is timed on catalogs of
200 and 5,000 types over varied requests (base personas x compliance x requester constraints).
The same requests' cheapest proposal is checked against exhaustive enumeration of the same
model on the 200-type catalog (cost gap, and the speedup of CP-SAT over enumeration).
The last line printed is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from activities.instance.activities import load_catalog
from activities.instance.analyzer import baseline_mape, load_rows, shipped_model
from activities.instance.solver import ProposalSolver
from activities.instance.texts import text_accuracy
from personas.instance.base import BASE_PERSONAS
from personas.instance.catalog import Catalog
from personas.instance.profiles import InstancePersona
from personas.instance.proposals import SolveRequest
from personas.instance.requirements import Constraint
from tests.reference.enumeration import cheapest_feasible
from tests.reference.gen_data import catalog as generate_catalog

VARIANTS: list[tuple[tuple[str, ...], tuple[Constraint, ...]]] = [
    ((), ()),
    (("soc2",), (Constraint(kind="region", value="eu-west"),)),
    (("hipaa",), (Constraint(kind="arch", value="x86_64"),)),
    (("pci_dss",), ()),
    ((), (Constraint(kind="storage_kind", value="ssd"), Constraint(kind="min_vcpu", value=8))),
    (
        (),
        (Constraint(kind="exclude_family", value="t3"), Constraint(kind="tenancy", value="shared")),
    ),
]


def requests(n: int) -> list[SolveRequest]:
    """``n`` varied, mostly feasible requests."""
    out = []
    for (name, base), (regimes, extra) in itertools.product(BASE_PERSONAS.items(), VARIANTS):
        data = base.model_dump()
        data["security"]["compliance"] = list(regimes)
        if regimes and name == "web_server":
            data["security"]["ingress"] = ["10.0.0.0/8"]
        data["cost"] = {"max_hourly": 50.0, "max_monthly": 36500.0}
        out.append(SolveRequest(persona=InstancePersona.model_validate(data), constraints=extra))
    return list(itertools.islice(itertools.cycle(out), n))


def sized(cat: Catalog, n: int) -> Catalog:
    """``n`` types spread evenly over the catalog."""
    step = len(cat.types) / n
    return cat.model_copy(update={"types": tuple(cat.types[int(i * step)] for i in range(n))})


def p95(values: list[float]) -> float:
    """The 95th percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def timed_solves(solver: ProposalSolver, reqs: list[SolveRequest]) -> list[float]:
    """Wall milliseconds of each request's k=3 proposal generation."""
    times = []
    for req in reqs:
        started = time.perf_counter()
        solver.solve(req)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer requests, under a minute")
    args = parser.parse_args()
    n_solve, n_enum = (24, 8) if args.quick else (96, 24)
    cat200 = sized(load_catalog(), 200)
    cat5000 = sized(Catalog.model_validate(generate_catalog(n_regions=34)), 5000)
    reqs = requests(n_solve)
    s200, s5000 = ProposalSolver(cat200), ProposalSolver(cat5000)
    s200.solve(reqs[0])  # warm-up (imports, first model)
    t200 = timed_solves(s200, reqs)
    print(f"200 types: p95 {p95(t200):.1f} ms, median {statistics.median(t200):.1f} ms", flush=True)
    t5000 = timed_solves(s5000, reqs)
    print(
        f"5000 types: p95 {p95(t5000):.1f} ms, median {statistics.median(t5000):.1f} ms", flush=True
    )
    gaps, solver_s, enum_s = [], 0.0, 0.0
    for req in requests(n_enum):
        one = req.model_copy(update={"k": 1})
        started = time.perf_counter()
        result = s200.solve(one)
        solver_s += time.perf_counter() - started
        started = time.perf_counter()
        truth = cheapest_feasible(cat200, one)
        enum_s += time.perf_counter() - started
        if truth is None:
            assert not result.proposals, "solver found a proposal enumeration calls infeasible"
            continue
        got = result.proposals[0].hourly
        gaps.append(max(0.0, (got - round(truth[0], 4)) / truth[0] * 100))
    print(
        f"enumeration {enum_s:.2f} s vs CP-SAT {solver_s:.2f} s over {n_enum} requests; "
        f"max cost gap {max(gaps, default=0.0):.4f}%",
        flush=True,
    )
    model = shipped_model()
    baseline = baseline_mape(load_rows())
    baseline_mean = sum(baseline.values()) / len(baseline)
    print(
        f"analyzer held-out MAPE {model.mape_pct:.2f}% ({model.test_rows} rows; kept: "
        f"log-linear) against {baseline_mean:.2f}% for gradient-boosted trees; per resource "
        f"{model.heldout_mape_pct} vs {baseline}; 90% band coverage "
        f"{model.heldout_band_coverage:.1%}",
        flush=True,
    )
    texts = text_accuracy()
    print(
        f"workload texts: {texts.cases} cases, {texts.right}/{texts.fields} fields read right "
        f"({texts.accuracy_pct}%); misses: {texts.misses}",
        flush=True,
    )
    figures = {
        "solve_p95_ms_200": round(p95(t200), 1),
        "solve_p95_ms_5000": round(p95(t5000), 1),
        "speedup_vs_enumeration": round(enum_s / solver_s, 1),
        "cost_gap_pct": round(max(gaps, default=0.0), 4),
        "analyzer_mape_pct": round(model.mape_pct, 2),
        "analyzer_baseline_mape_pct": round(baseline_mean, 2),
        "analyzer_kept": "log_linear",
        "analyzer_baseline": "sklearn GradientBoostingRegressor (defaults, seed 0)",
        "text_cases": texts.cases,
        "text_reading_accuracy_pct": texts.accuracy_pct,
        "analyzer_band_coverage": model.heldout_band_coverage,
        "requests": n_solve,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
