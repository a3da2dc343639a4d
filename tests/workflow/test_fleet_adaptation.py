"""FleetAdaptation under the time-skipping server: risk bounds, rollback, shadow, bad executors."""

from __future__ import annotations

import itertools
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.fleet.contracts import ExecutorSpec
from personas.fleet.config import DEFAULT_CONFIG, DOMAIN, FleetConfig, changed_attributes
from personas.fleet.persona import FleetPersona, Guard
from personas.fleet.risk import policy
from personas.fleet.simulator import Scenario
from personas.ids import fleet_workflow_id
from tests.workflow.fleet_support import (
    FleetHarness,
    acme_fleet,
    fleet_rig,
    persona_for,
)
from workflows.fleet_adaptation import FleetAdaptation, FleetView

GOOD = FleetConfig(cpu_share=1.0, cache="lru", balancer="hash", replicas=4)
BAD = FleetConfig(cpu_share=0.25, cache="none", balancer="round_robin", replicas=1)
LOAD = Scenario(pattern="steady", rate_rps=150)
first_run: dict[str, str] = {}


@pytest.fixture
async def harness(time_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[FleetHarness]:
    async with fleet_rig(time_env.client, str(tmp_path / "fleet.db")) as h:
        yield h


async def run_fleet(h: FleetHarness, persona: FleetPersona, **fields: object) -> FleetView:
    """Run a fleet adapting once a minute to the end; its last view."""
    fid = persona.fleet_id
    data = acme_fleet(
        fid,
        persona,
        scenario=LOAD,
        cadence_s=60,
        **fields,
    )
    h.started.append(fleet_workflow_id(fid))
    handle = await h.client.start_workflow(
        FleetAdaptation.run, data, id=fleet_workflow_id(fid), task_queue=h.queue
    )
    first_run[fid] = handle.first_execution_run_id or ""
    return await handle.result()


def fid() -> str:
    return f"f{uuid.uuid4().hex[:8]}"


async def test_risk_bounds_hold_for_low_tolerance(harness: FleetHarness) -> None:
    f = fid()
    view = await run_fleet(harness, persona_for(f, GOOD), risk_tolerance=0.0, max_rounds=40)
    applied = [c for c in view.changes if c.status == "applied"]
    assert len(applied) >= 3
    p = policy(0.0)
    for c in applied:
        changed = changed_attributes(c.from_config, c.to_config)
        assert len(changed) <= p.max_attributes == 1
        for a in ("cpu_share", "replicas"):
            vals = DOMAIN[a]
            step = abs(vals.index(getattr(c.from_config, a)) - vals.index(getattr(c.to_config, a)))
            assert step <= 1
    gaps = [b.at_s - a.at_s for a, b in itertools.pairwise(applied)]
    assert all(g >= p.cooldown_s for g in gaps), gaps
    assert harness.fleet.current(f) == view.current
    assert view.deviation < 1.0


async def test_high_tolerance_reaches_the_optimum(harness: FleetHarness) -> None:
    f = fid()
    view = await run_fleet(harness, persona_for(f, GOOD), risk_tolerance=1.0, max_rounds=8)
    assert view.current == GOOD
    assert harness.fleet.current(f) == GOOD
    assert view.deviation == 0.0
    rec = harness.store.get_persona(f"fleet-{f}")
    assert rec.kind == "fleet"
    assert rec.body["optimum"] == GOOD.model_dump(mode="json")


async def test_a_change_that_breaks_guards_is_rolled_back(harness: FleetHarness) -> None:
    f = fid()
    persona = persona_for(f, BAD, guard=Guard(max_error_rate=0.01, max_p95_ms=500))
    view = await run_fleet(harness, persona, risk_tolerance=1.0, max_rounds=3)
    rolled = [c for c in view.changes if c.status == "rolled_back"]
    assert rolled, view.changes
    assert rolled[0].reason
    assert view.current == DEFAULT_CONFIG == view.last_good
    assert harness.fleet.current(f) == DEFAULT_CONFIG
    assert (f, BAD) in harness.fleet.applied  # it was really applied, then undone


async def test_shadow_mode_changes_nothing(harness: FleetHarness) -> None:
    f = fid()
    view = await run_fleet(
        harness, persona_for(f, GOOD), risk_tolerance=1.0, max_rounds=5, shadow=True
    )
    assert view.changes
    assert all(c.status == "shadow" for c in view.changes)
    assert view.changes[0].to_config != DEFAULT_CONFIG
    assert harness.fleet.applied == []
    assert view.current == DEFAULT_CONFIG


@pytest.mark.parametrize(
    ("command", "limit_s", "reason"),
    [
        ([sys.executable, "-c", "import sys; sys.exit('boom')"], 5.0, "exited 1: boom"),
        ([sys.executable, "-c", "import time; time.sleep(30)"], 0.5, "timed out after 0.5s"),
    ],
)
async def test_a_failing_or_hanging_executor_leaves_the_last_good_config(
    harness: FleetHarness, command: list[str], limit_s: float, reason: str
) -> None:
    f = fid()
    executors = [ExecutorSpec(kind="script", command=command, timeout_s=limit_s), ExecutorSpec()]
    view = await run_fleet(
        harness, persona_for(f, GOOD), risk_tolerance=1.0, max_rounds=1, executors=executors
    )
    assert [c.status for c in view.changes] == ["failed"]
    assert reason in view.changes[0].reason
    assert any("staying on" in e for e in view.errors)
    assert view.current == DEFAULT_CONFIG
    assert harness.fleet.applied == []


async def test_script_executor_receives_the_config(harness: FleetHarness, tmp_path) -> None:
    f = fid()
    out = tmp_path / "applied.json"
    script = f"import sys, pathlib; pathlib.Path({str(out)!r}).write_text(sys.argv[1])"
    executors = [
        ExecutorSpec(kind="script", command=[sys.executable, "-c", script]),
        ExecutorSpec(),
    ]
    view = await run_fleet(
        harness, persona_for(f, GOOD), risk_tolerance=1.0, max_rounds=1, executors=executors
    )
    assert view.changes[0].status == "applied"
    assert FleetConfig.model_validate_json(out.read_text()) == view.current == GOOD


async def test_continue_as_new_carries_the_fleet_state(harness: FleetHarness) -> None:
    f = fid()
    view = await run_fleet(
        harness, persona_for(f, GOOD), risk_tolerance=0.0, max_rounds=25, rounds_per_run=4
    )
    assert view.rounds == 25
    applied = [c for c in view.changes if c.status == "applied"]
    assert len(applied) >= 2
    assert applied[0].from_config == DEFAULT_CONFIG
    assert view.current == harness.fleet.current(f) == applied[-1].to_config
    first = harness.client.get_workflow_handle(fleet_workflow_id(f), run_id=first_run[f])
    continued = [
        e
        async for e in first.fetch_history_events()
        if e.HasField("workflow_execution_continued_as_new_event_attributes")
    ]
    assert len(continued) == 1


async def test_the_persona_is_retrained_on_observations(harness: FleetHarness) -> None:
    f = fid()
    view = await run_fleet(
        harness, persona_for(f, BAD), risk_tolerance=0.0, max_rounds=4, relearn_every=2
    )
    assert view.persona_version == 3
    versions = harness.store.persona_versions(f"fleet-{f}")
    assert [v.version for v in versions] == [1, 2, 3]
    assert versions[-1].body["author"] == "fleet-learner"
    assert any(s.startswith("observations:") for s in versions[-1].body["input_sources"])
    assert view.optimum != BAD  # the retrained persona no longer wants the overloaded fleet
