"""Fleet personas: learner regret in the calibrated simulator, and the real nginx testbed.

Steps: calibrate the simulator on the testbed (replicas behind nginx on 127.0.0.1, loopback
load); run Thompson sampling per scenario against the calibrated simulator and measure regret
against the oracle (best fixed configuration in hindsight) and the static default; learn the
testbed scenario's persona, apply its optimum to the testbed and measure the improvement;
measure context transfer (learn in surge traffic and in a campaign, then in the unseen surge
during a campaign, against a cold start). The last line is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime

from activities.fleet.lab import calibrate_on, learn_persona, measure
from activities.fleet.testbed import Testbed
from personas.fleet.config import DEFAULT_CONFIG
from personas.fleet.evaluation import regret_run, transfer_run
from personas.fleet.objective import compile_weights, score
from personas.fleet.simulator import Scenario

SCENARIOS: tuple[tuple[str, list[str]], ...] = (
    ("steady", []),
    ("daily", ["cut costs"]),
    ("surge", ["prepare for a traffic surge"]),
    ("mobile", ["optimise for mobile users"]),
)


async def run(quick: bool) -> dict[str, float]:
    """Run every step and return the figures."""
    started = time.monotonic()
    load = Scenario(pattern="steady", rate_rps=200, duration_s=2.0 if quick else 5.0)
    # The testbed comparison runs at a load that saturates the default configuration, where
    # the configuration matters; below it every configuration serves alike.
    peak = load.model_copy(update={"rate_rps": 320, "duration_s": 2.5})
    with Testbed(DEFAULT_CONFIG) as tb:
        calibration = await calibrate_on(tb, load)
        print(
            f"calibration: {calibration.params.model_dump()} error "
            f"{calibration.error_pct:.1f}% ({time.monotonic() - started:.0f}s)",
            flush=True,
        )
        rounds = 150 if quick else 400
        reports = []
        for pattern, intents in SCENARIOS:
            sc = Scenario(pattern=pattern, rate_rps=load.rate_rps, duration_s=load.duration_s)
            r = await asyncio.to_thread(
                regret_run, sc, compile_weights(intents), calibration.params, rounds, 1
            )
            reports.append(r)
            print(
                f"{pattern}: oracle {r.oracle} learned {r.learned} regret "
                f"{r.regret_vs_oracle_pct:.1f}% vs default {r.regret_vs_static_default_pct:.1f}% "
                f"within 5% after {r.rounds_to_within_5pct} rounds",
                flush=True,
            )
        persona = learn_persona(
            "bench",
            peak,
            calibration.params,
            intents=[],
            rounds=rounds,
            seed=1,
            author="bench",
            now=datetime.now(UTC),
            sources=["testbed calibration"],
        )
        transfers = [
            await asyncio.to_thread(
                transfer_run,
                [
                    load.model_copy(update={"pattern": "surge"}),
                    load.model_copy(update={"campaign": True}),
                ],
                load.model_copy(update={"pattern": "surge", "campaign": True}),
                compile_weights([]),
                calibration.params,
                train_rounds=60,
                rounds=60,
                seed=seed,
            )
            for seed in range(3 if quick else 6)
        ]
        print(
            "transfer to surge+campaign: rounds to within 5% cold "
            f"{[t.cold_rounds for t in transfers]} warm {[t.warm_rounds for t in transfers]}; "
            f"regret cold {statistics.mean(t.cold_regret_pct for t in transfers):.1f}% warm "
            f"{statistics.mean(t.warm_regret_pct for t in transfers):.1f}% "
            f"({time.monotonic() - started:.0f}s)",
            flush=True,
        )
        # Interleaved repeats, so that the machine's noise falls on both alike; medians.
        scores: dict[str, list[float]] = {"default": [], "learned": []}
        for seed in (5, 6, 7):
            for name, config in (("default", DEFAULT_CONFIG), ("learned", persona.optimum)):
                run_ = await measure(tb, config, peak, seed=seed)
                scores[name].append(score(run_.metrics, persona.weights))
        b, a = statistics.median(scores["default"]), statistics.median(scores["learned"])
        print(
            f"testbed at {peak.rate_rps:.0f} rps: default {b:.3f} -> {persona.optimum.key()} "
            f"{a:.3f} (medians of {scores}) ({time.monotonic() - started:.0f}s)",
            flush=True,
        )
    return {
        "regret_vs_oracle_pct": round(statistics.mean(r.regret_vs_oracle_pct for r in reports), 2),
        "regret_vs_static_default_pct": round(
            statistics.mean(r.regret_vs_static_default_pct for r in reports), 2
        ),
        "rounds_to_within_5pct": round(
            statistics.mean(r.rounds_to_within_5pct for r in reports), 1
        ),
        "testbed_improvement_pct": round(100.0 * (a - b) / max(abs(b), 1e-9), 2),
        "calibration_error_pct": round(calibration.error_pct, 2),
        "transfer_rounds_cold": round(statistics.mean(t.cold_rounds for t in transfers), 1),
        "transfer_rounds_warm": round(statistics.mean(t.warm_rounds for t in transfers), 1),
        "transfer_regret_cold_pct": round(statistics.mean(t.cold_regret_pct for t in transfers), 2),
        "transfer_regret_warm_pct": round(statistics.mean(t.warm_regret_pct for t in transfers), 2),
        "rounds": rounds,
    }


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="shorter loads, under a minute")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.quick))))


if __name__ == "__main__":
    main()
