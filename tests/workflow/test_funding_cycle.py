"""The funding cycle on the time-skipping server: 90 simulated days of cycles, rule
adjustments, top-ups, pause and resume, and failures injected at every step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.funding.ads import AdService
from activities.funding.audit_log import AuditLog
from activities.funding.ledger import (
    WORLD,
    entity_budget,
    persona_balance,
    persona_held,
    persona_spend,
    source_account,
)
from activities.funding.performance import PerformanceStore
from activities.funding.tables import Impression
from activities.store import Store
from personas.funding.ads import Ad
from personas.funding.cycle import CycleConfig, FundingCycleInput, FundingView
from personas.funding.metrics import PerformanceOutcome
from personas.ids import funding_workflow_id
from runtime.converter import data_converter
from tests.helpers import eventually, profile
from tests.workflow.funding_fixtures import FundingHarness, harness
from workflows.funding_cycle import FUNDING_WORKFLOWS, FundingCycle

UNIT = 1_000_000
DAY = timedelta(days=1)


@pytest.fixture
async def h(time_env: WorkflowEnvironment, sqlite_store: Store) -> AsyncIterator[FundingHarness]:
    """A funding harness on the time-skipping server."""
    async for value in harness(time_env.client, sqlite_store):
        yield value


async def _persona(h: FundingHarness, *, life: bool = True) -> str:
    record = await h.personas.create_persona(profile(), created_by="test")
    if life:
        await h.personas.start_life(record.persona_id)
    h.funding.setup_persona("acme", record.persona_id)
    return record.persona_id


async def _start(
    h: FundingHarness, pid: str, allocation: int, limit: int, period: timedelta = DAY
) -> WorkflowHandle[FundingCycle, FundingView]:
    wid = funding_workflow_id(pid)
    h.started.append(wid)
    return await h.client.start_workflow(
        FundingCycle.run,
        FundingCycleInput(
            persona_id=pid,
            entity_id="acme",
            funding_limit=limit,
            allocation=allocation,
            config=CycleConfig(period_s=period.total_seconds(), max_cycles_per_run=40),
        ),
        id=wid,
        task_queue=h.queue,
    )


def _drain(h: FundingHarness, pid: str, key: str) -> None:
    balance = h.funding.ledger.balance(persona_balance(pid))
    if balance:
        h.funding.ledger.post(
            key, [(persona_balance(pid), -balance), (persona_spend(pid), balance)]
        )


async def _cycle_now(handle: WorkflowHandle[FundingCycle, FundingView]) -> FundingView:
    """Run one cycle on demand and wait for it to finish."""
    before = (await handle.query(FundingCycle.view)).cycle
    await handle.signal(FundingCycle.run_cycle)
    return await eventually(
        lambda: handle.query(FundingCycle.view), lambda v: v.cycle > before, timeout_s=30
    )


def _record_days(
    perf: PerformanceStore, pid: str, start: datetime, days: range, good: bool
) -> None:
    for day in days:
        for i in range(4):
            at = start + day * DAY + timedelta(hours=1 + 5 * i)
            outcome = PerformanceOutcome(resolved=good, accurate=good)
            perf.record(f"{pid}-{day}-{i}", pid, outcome, at)


async def test_ninety_days_of_rules_top_ups_pause_and_resume(
    time_env: WorkflowEnvironment, h: FundingHarness
) -> None:
    pid = await _persona(h, life=False)  # the life's own pause is tested below
    budget = entity_budget("acme")
    h.funding.deposit("seed", budget, 1_000 * UNIT)
    start = await time_env.get_current_time()
    perf = PerformanceStore(h.funding.db)
    _record_days(perf, pid, start, range(30), good=True)
    _record_days(perf, pid, start, range(30, 60), good=False)
    handle = await _start(h, pid, allocation=UNIT, limit=5 * UNIT)
    first_run = (await handle.describe()).run_id
    views: dict[int, FundingView] = {}
    for day in range(3, 91, 3):
        await time_env.sleep(3 * DAY)
        _drain(h, pid, f"drain-{day}")
        if day == 63:  # the entity withdraws its budget: nothing can fund the persona
            left = h.funding.ledger.balance(budget)
            h.funding.ledger.post("withdraw", [(budget, -left), (WORLD, left)])
        if day == 75:  # funds arrive
            h.funding.deposit("refill", budget, 10 * UNIT)
            await handle.signal(FundingCycle.funds_arrived, "refill")
        if day in (30, 57, 72, 90):
            views[day] = await handle.query(FundingCycle.view)
    at30, at57, at72, at90 = views[30], views[57], views[72], views[90]
    assert at30.allocation == 5 * UNIT
    assert at30.last_rule == "reward"
    assert at57.allocation < UNIT // 10
    assert at57.last_rule == "penalise"
    assert at72.paused
    assert at72.status == "unfunded"
    assert at90.allocation <= at57.allocation
    assert at90.last_rule is None
    assert not at90.paused
    assert (at90.pauses, at90.resumes) == (1, 1)
    assert at90.cycle >= 90
    assert (await handle.describe()).run_id != first_run  # continued as new, state carried
    replayer = Replayer(workflows=FUNDING_WORKFLOWS, data_converter=data_converter)
    await replayer.replay_workflow(await handle.fetch_history())  # deterministic
    assert at90.top_ups == h.funding.ledger.count_postings(f"{funding_workflow_id(pid)}:cycle:")
    assert at90.top_ups >= 25  # every 3 days a drain, but none while unfunded
    assert h.funding.ledger.total() == 0
    assert h.funding.ledger.entries_match_balances()
    assert h.funding.ledger.balance(persona_balance(pid)) <= 5 * UNIT


async def test_unfunded_persona_pauses_and_resumes_when_funds_arrive(
    time_env: WorkflowEnvironment, h: FundingHarness
) -> None:
    pid = await _persona(h)
    h.funding.deposit("seed", entity_budget("acme"), 2 * UNIT)
    card = h.funding.add_source("acme", "card", 1)
    h.funding.deposit("card", card, UNIT)
    handle = await _start(h, pid, allocation=UNIT, limit=UNIT, period=30 * DAY)
    await eventually(lambda: handle.query(FundingCycle.view), lambda v: v.cycle == 1)
    for day in range(1, 4):
        _drain(h, pid, f"drain-{day}")
        await _cycle_now(handle)
    view = await eventually(
        lambda: handle.query(FundingCycle.view), lambda v: v.paused, timeout_s=10
    )
    assert view.status == "unfunded"
    assert view.pauses == 1
    assert h.funding.ledger.balance(entity_budget("acme")) == 0
    assert h.funding.ledger.balance(card) == 0
    life = await eventually(
        lambda: h.personas.view(pid), lambda v: v.paused and v.compute_budget == 0.0
    )
    assert life.mood == "idle"
    h.funding.deposit("refill", source_account("card"), 3 * UNIT)
    await handle.signal(FundingCycle.funds_arrived, "card refilled")
    view = await eventually(
        lambda: handle.query(FundingCycle.view), lambda v: not v.paused, timeout_s=10
    )
    assert view.resumes == 1
    assert view.balance == UNIT
    life = await eventually(
        lambda: h.personas.view(pid), lambda v: not v.paused and v.compute_budget == 1.0
    )
    assert not life.paused
    assert h.funding.ledger.balance(WORLD) == -6 * UNIT
    assert h.funding.ledger.total() == 0
    trail = AuditLog(h.funding.db).entries(persona_id=pid)
    events = [e.data["event"] for e in trail if e.kind == "life.event"]
    assert events == ["funds_exhausted", "funds_available"]


@pytest.mark.parametrize(
    "steps",
    [
        {"setup", "metrics", "storage.before", "rules", "release_expired"},
        {"top_up.before", "life"},
        {"top_up.after", "storage.after"},
        {
            "setup",
            "metrics",
            "storage.before",
            "storage.after",
            "rules",
            "release_expired",
            "top_up.before",
            "top_up.after",
            "life",
        },
    ],
)
async def test_failures_at_every_step_neither_double_nor_lose_a_posting(
    time_env: WorkflowEnvironment, h: FundingHarness, steps: set[str]
) -> None:
    pid = await _persona(h, life=False)
    h.faults.steps = steps
    h.funding.deposit("seed", entity_budget("acme"), 100 * UNIT)
    handle = await _start(h, pid, allocation=UNIT, limit=UNIT, period=30 * DAY)
    for day in range(1, 4):
        await eventually(lambda: handle.query(FundingCycle.view), lambda v: v.cycle >= 1)
        _drain(h, pid, f"drain-{day}")
        view = await _cycle_now(handle)
    assert h.faults.injected > 0
    prefix = f"{funding_workflow_id(pid)}:cycle:"
    # the workflow's count of top-ups and the ledger's postings agree: none doubled or lost
    assert h.funding.ledger.count_postings(prefix) == view.top_ups
    assert view.top_ups == view.cycle == 4
    spent = h.funding.ledger.balance(persona_spend(pid))
    balance = h.funding.ledger.balance(persona_balance(pid))
    assert spent + balance == view.top_ups * UNIT
    assert h.funding.ledger.balance(entity_budget("acme")) == 100 * UNIT - view.top_ups * UNIT
    assert h.funding.ledger.total() == 0


async def test_metered_work_is_held_then_settled_and_unfunded_work_is_shed(
    time_env: WorkflowEnvironment, h: FundingHarness
) -> None:
    pid = await _persona(h)
    h.funding.deposit("seed", entity_budget("acme"), UNIT)
    await _start(h, pid, allocation=UNIT, limit=UNIT)
    await eventually(lambda: h.personas.view(pid), lambda v: v.metered)
    assert h.funding.ledger.balance(persona_balance(pid)) == UNIT
    for i in range(3):
        await h.personas.post_to_persona(pid, f"@Ada review change {i}", "bob")
    await eventually(
        lambda: h.personas.view(pid),
        lambda v: v.stats.processed == 3,
        advance=lambda: time_env.sleep(1),
    )
    usage = h.funding.meter.usage(persona_id=pid)
    assert [(u.activity, u.kind) for u in usage] == [
        ("think", "model_call"),
        ("think", "compute"),
    ] * 3
    assert all(u.tx_id is not None for u in usage)
    assert all(u.tokens_in > 0 for u in usage if u.kind == "model_call")
    assert all(u.quantity > 0 for u in usage if u.kind == "compute")  # milliseconds of the call
    charged = sum(u.price for u in usage)
    assert charged > 0
    assert h.funding.ledger.balance(persona_balance(pid)) == UNIT - charged
    assert h.funding.ledger.balance(persona_held(pid)) == 0  # every hold settled
    assert h.funding.ledger.total() == 0

    _drain(h, pid, "drain")
    item = await h.personas.post_to_persona(pid, "@Ada one more, please", "bob")
    view = await eventually(
        lambda: h.personas.view(pid),
        lambda v: v.stats.unfunded == 1 and v.stats.shed == 1,
        advance=lambda: time_env.sleep(1),
    )
    assert view.stats.processed == 3
    [shed] = h.store.shed_items(pid)
    assert (shed.item_id, shed.reason) == (item.item_id, "unfunded: InsufficientFunds")
    assert h.funding.ledger.balance(persona_held(pid)) == 0

    # The next cycle (on demand, within the period) charges the storage the three outputs
    # took since the last one: a few simulated seconds, rounded up to a whole MB-day.
    handle = h.client.get_workflow_handle(funding_workflow_id(pid))
    await _cycle_now(handle)
    stored = [u for u in h.funding.meter.usage(persona_id=pid) if u.kind == "storage"]
    assert [(u.activity, u.quantity) for u in stored] == [("funding_cycle", 1)]  # rounded up


async def test_answers_to_people_carry_ads_whose_share_funds_the_persona(
    time_env: WorkflowEnvironment, h: FundingHarness
) -> None:
    pid = await _persona(h)
    h.funding.deposit("seed", entity_budget("acme"), UNIT)
    ads = AdService(h.funding.db, h.funding.ledger)
    ads.add_ad(
        Ad(ad_id="pytest-pro", keywords=("pytest", "fixtures"), revenue_per_impression=10_000)
    )
    ads.add_ad(Ad(ad_id="shoes", keywords=("shoes",), revenue_per_impression=20_000))
    await _start(h, pid, allocation=UNIT, limit=UNIT)
    await eventually(lambda: h.personas.view(pid), lambda v: v.metered)

    async def answer(text: str, sender: str, shown: int) -> None:
        await h.personas.post_to_persona(pid, text, sender)
        await eventually(
            lambda: h.personas.view(pid),
            lambda v: v.stats.ads_shown == shown and v.stats.processed == shown,
            advance=lambda: time_env.sleep(1),
        )

    await answer("@Ada please check my pytest fixtures", "bob", 1)
    ads.set_opt_out("bob", True)  # honoured from the next impression on
    await answer("@Ada and these fixtures too", "bob", 2)
    await h.personas.post_to_persona(pid, "@Ada from a bot", "ci-bot", human=False)
    view = await eventually(
        lambda: h.personas.view(pid),
        lambda v: v.stats.processed == 3,
        advance=lambda: time_env.sleep(1),
    )
    assert view.stats.ads_shown == 2  # no ad on an answer to a machine
    with h.funding.db.tx() as s:
        shown = [
            (r.user_id, r.ad_id, r.targeted, r.credited)
            for r in s.scalars(select(Impression).where(Impression.persona_id == pid))
        ]
    assert sorted(shown, key=lambda r: str(r[1])) == [
        ("bob", "pytest-pro", True, 3_000),  # matched the task; 30 % of the revenue
        ("bob", "shoes", False, 6_000),  # opted out: untargeted, the highest revenue
    ]
    assert view.stats.ad_credit == 9_000
    assert h.funding.ledger.total() == 0
