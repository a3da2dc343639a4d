"""Hostile input never fails a workflow task: malformed and oversized payloads for every
signal, update and start input of the persona life, room, funding and fleet workflows, on
the dev server (which enforces the server's payload limits).

For each workflow type one long-lived workflow receives hypothesis-generated payloads
(``tests/hostile.py``): each is refused with a clear error (updates), counted (signals that
decode) or dropped by the SDK with a warning (signals that do not decode); then the
workflow still answers its queries and finishes normally, and its history holds no
``WORKFLOW_TASK_FAILED`` event. A start input that does not decode fails its workflow once,
cleanly. The clients turn every refusal into one line of :class:`PersonaError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import RawValue
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.funding.contracts import RotateKeyRequest
from activities.providers import OfflineDeterministicProvider
from activities.store import Store
from clients.api import ERROR_CHARS, PersonaClient, PersonaError
from clients.fleet_api import FleetClient
from clients.funding_api import FundingClient
from personas import messages
from personas.bounds import IDENTIFIER
from personas.coordination import BidBatch
from personas.fleet.config import DEFAULT_CONFIG
from personas.fleet.context import FleetContext
from personas.fleet.persona import FleetPersona
from personas.fleet.simulator import Scenario
from personas.fleet.steering import RiskTolerance, ShadowMode
from personas.funding.cycle import CycleConfig, FundingCycleInput
from personas.ids import fleet_workflow_id, funding_workflow_id, persona_workflow_id
from personas.items import InboxItem
from personas.life import DependencyDone, FloorGrant, LifeStats, PersonaLifeInput, Subscription
from personas.rooms import RoomInput
from tests.helpers import eventually, profile
from tests.hostile import (
    NULL,
    Hostile,
    classify,
    hostile_list,
    json_payload,
)
from tests.workflow.fleet_support import acme_fleet, persona_for
from workers.main import build_worker
from workflows.common import is_number
from workflows.fleet_ab import ABInput, FleetABTest, FleetVariant, VariantInput
from workflows.fleet_adaptation import FleetAdaptation, FleetInput
from workflows.funding_cycle import FundingCycle, KeyRotation
from workflows.persona_life import PersonaLife
from workflows.room_coordinator import RoomCoordinator

SIGNAL_EXAMPLES = 20
UPDATE_EXAMPLES = 10
START_EXAMPLES = 4


class Harness:
    """A worker with every workflow on its own queue, and what the tests started."""

    def __init__(self, client: Client, store: Store, queue: str) -> None:
        self.client = client
        self.store = store
        self.queue = queue
        self.personas = PersonaClient(client, store, queue)
        self.started: list[str] = []
        self.sent = 0


@pytest.fixture
async def h(dev_env: WorkflowEnvironment, sqlite_store: Store) -> AsyncIterator[Harness]:
    queue = f"hostile-{uuid.uuid4().hex[:8]}"
    worker = build_worker(dev_env.client, sqlite_store, OfflineDeterministicProvider(), queue)
    async with worker:
        harness = Harness(dev_env.client, sqlite_store, queue)
        yield harness
        for wid in harness.started:
            with contextlib.suppress(RPCError):
                await dev_env.client.get_workflow_handle(wid).terminate("test finished")


async def task_failures(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The messages of every WORKFLOW_TASK_FAILED event in the workflow's (current run's)
    history: each is a workflow task that hostile input broke."""
    failed = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failed.append(event.workflow_task_failed_event_attributes.failure.message[:300])
    return failed


async def send_signals(
    h: Harness, handle: WorkflowHandle[Any, Any], name: str, payloads: list[Hostile]
) -> int:
    """Send each payload as signal ``name``, plus one with none and one with two payloads;
    returns how many the workflow must count as rejected (decodable but invalid)."""
    for p in payloads:
        h.sent += 1
        with contextlib.suppress(RPCError):  # the server's own refusal (too large)
            await handle.signal(name, p.raw())
    await handle.signal(name)
    await handle.signal(name, args=[RawValue(NULL.payload), RawValue(NULL.payload)])
    h.sent += 2
    return 2


def valid_as(model: type[BaseModel]) -> Callable[[Hostile], bool]:
    """Whether an update of ``model`` may accept a payload."""
    return lambda p: p.valid_as(model)


def value_where(hint: type, check: Callable[[Any], bool]) -> Callable[[Hostile], bool]:
    """Whether an update of a bare ``hint`` may accept a payload: the SDK decodes it as
    ``hint`` (pydantic's lax JSON rules: ``0`` is ``False``; ``object`` for a handler typed
    ``Any``, which sees the value as sent), then ``check`` holds."""

    def accepts(p: Hostile) -> bool:
        if p.payload.metadata.get("encoding") != b"json/plain":
            return p.decodes and check(p.value)  # null and binary decode as themselves
        try:
            return check(TypeAdapter(hint).validate_json(p.payload.data))
        except ValidationError:
            return False

    return accepts


async def refused_updates(
    h: Harness,
    handle: WorkflowHandle[Any, Any],
    name: str,
    payloads: list[Hostile],
    accepts: Callable[[Hostile], bool],
) -> None:
    """Send each payload as update ``name``: every one that ``accepts`` says is not valid is
    refused with one clear line; so are a call with none and one with two payloads."""
    for p in payloads:
        h.sent += 1
        try:
            await handle.execute_update(name, p.raw())
        except WorkflowUpdateFailedError as err:
            message = str(getattr(err.cause, "message", err.cause))
            assert message, p.label
            assert len(message) <= 400, (p.label, message[:500])
            continue
        except RPCError:
            continue
        assert accepts(p), f"{name} accepted {p.label}: {p.payload.data[:100]!r}"
    for args in ([], [RawValue(NULL.payload), RawValue(NULL.payload)]):
        h.sent += 1
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(name, args=args)


async def junk_queries(handle: WorkflowHandle[Any, Any], names: list[str]) -> None:
    """Queries with hostile arguments answer or fail, and never touch the workflow."""
    for name in names:
        for p in hostile_list({"n": 1}, 4):
            with contextlib.suppress(WorkflowQueryFailedError, RPCError):
                await handle.query(name, p.raw())


async def no_task_failed(handle: WorkflowHandle[Any, Any]) -> None:
    failures = await task_failures(handle)
    assert failures == [], failures


async def hostile_starts(
    h: Harness,
    run: Any,
    valid: dict[str, Any],
    model: type[BaseModel],
    prefix: str,
) -> None:
    """Workflows started with hostile inputs: an invalid one fails once, cleanly (no workflow
    task failed); a valid one (a harmless mutation) runs and is terminated."""
    payloads = hostile_list(valid, START_EXAMPLES)
    for p in payloads:
        h.sent += 1
        wid = f"{prefix}-{uuid.uuid4().hex[:8]}"
        try:
            handle = await h.client.start_workflow(
                run, p.raw(), id=wid, task_queue=h.queue, execution_timeout=timedelta(minutes=2)
            )
        except RPCError:
            continue
        h.started.append(wid)
        if p.valid_as(model):
            await handle.terminate("valid after all")
            continue
        with pytest.raises(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), 30)
        await no_task_failed(handle)


def one_line_refusal(err: BaseException) -> None:
    text = str(err)
    assert isinstance(err, PersonaError), repr(err)[:300]
    assert text
    assert "\n" not in text
    assert len(text) <= ERROR_CHARS, text


async def refuses(call: Callable[[], Awaitable[Any]]) -> None:
    try:
        await call()
    except Exception as err:
        one_line_refusal(err)
        return
    raise AssertionError("accepted")


# ------------------------------------------------------------------------------- PersonaLife
ITEM = {
    "item_id": "i-1",
    "sender_id": "bob",
    "sent_at": "2026-01-01T00:00:00Z",
    "priority": 0.3,
    "topics": ["python"],
    "mentions": ["Ada"],
}


async def test_persona_life_refuses_or_counts_every_hostile_message(h: Harness) -> None:
    record = await h.personas.create_persona(profile(), created_by="test")
    pid = record.persona_id
    await h.personas.start_life(pid)
    handle = h.client.get_workflow_handle(persona_workflow_id(pid), result_type=LifeStats)
    h.started.append(handle.id)

    expected = 0
    signals: list[tuple[str, type[BaseModel], dict[str, Any]]] = [
        (messages.DELIVER, InboxItem, ITEM),
        (messages.SUBSCRIBE, Subscription, {"task_key": "t1", "subscriber_id": "p2"}),
        (messages.DEPENDENCY_DONE, DependencyDone, {"task_key": "t1", "provider_id": "p2"}),
        (messages.FLOOR_GRANTED, FloorGrant, {"room_id": "r1", "message_id": "m1"}),
    ]
    for name, model, valid in signals:
        payloads = hostile_list(valid, SIGNAL_EXAMPLES)
        _, invalid, _ = classify(payloads, model)
        expected += invalid + await send_signals(h, handle, name, payloads)

    await refused_updates(
        h, handle, "post", hostile_list(ITEM, UPDATE_EXAMPLES), valid_as(InboxItem)
    )
    triggers = {"shift_start", "shift_end", "funds_available", "funds_exhausted"}
    for name, accepts in [
        (messages.FIRE_TRIGGER, value_where(str, lambda v: isinstance(v, str) and v in triggers)),
        (messages.SET_COMPUTE_BUDGET, value_where(float, lambda v: is_number(v) and 0 <= v <= 1)),
        (messages.SET_METERING, value_where(object, lambda v: isinstance(v, bool))),
    ]:
        payloads = hostile_list({"v": 1}, UPDATE_EXAMPLES)
        await refused_updates(h, handle, name, payloads, accepts)
    await junk_queries(handle, ["view", "inbox_top"])

    view = await eventually(
        lambda: h.personas.view(pid), lambda v: v.stats.rejected >= expected, timeout_s=60
    )
    assert view.stats.rejected == expected
    assert view.stats.last_rejection is not None
    assert len(view.stats.last_rejection) <= 256
    assert await h.personas.trigger(pid, "shift_end") == "paused"
    await handle.signal(messages.STOP, json_payload(["x"] * 1000).raw())  # a stop with junk
    stats = await asyncio.wait_for(handle.result(), 60)
    assert stats.rejected == expected
    await no_task_failed(handle)


async def test_persona_life_start_inputs_that_do_not_decode_fail_once(h: Harness) -> None:
    valid = PersonaLifeInput(profile=profile()).model_dump(mode="json")
    await hostile_starts(h, PersonaLife.run, valid, PersonaLifeInput, "persona-hostile")


async def test_persona_client_refusals_are_one_line(h: Harness) -> None:
    record = await h.personas.create_persona(profile(), created_by="test")
    pid = record.persona_id
    await h.personas.start_life(pid)
    h.started.append(persona_workflow_id(pid))
    base = InboxItem.model_validate(ITEM)
    forgeries: list[dict[str, Any]] = [
        {"topics": ("\ud800",)},
        {"topics": ("x" * 1_000_000,)},
        {"mentions": tuple("m" for _ in range(100_000))},
        {"item_id": ""},
    ]
    for bad in forgeries:
        forged = base.model_construct(**{**base.model_dump(), **bad})
        await refuses(partial(h.personas.post_checked, pid, forged))
    await refuses(lambda: h.personas.trigger(pid, "x" * 1_000_000))
    await refuses(lambda: h.personas.trigger(pid, "\ud800"))
    await refuses(lambda: h.personas.set_compute_budget(pid, float("nan")))
    await refuses(lambda: h.personas.set_compute_budget(pid, -1e308))
    await refuses(lambda: h.personas.post_to_persona(pid, "hi", "bob\n"))
    await refuses(lambda: h.personas.post_to_persona(pid, "hi", "b" * 10_000))


# ------------------------------------------------------------------------------- Room
async def test_room_refuses_or_counts_every_hostile_message(h: Harness) -> None:
    room_id = f"r{uuid.uuid4().hex[:8]}"
    handle = await h.client.start_workflow(
        RoomCoordinator.run,
        RoomInput(room_id=room_id, members=["p1", "p2"]),
        id=f"room-{room_id}",
        task_queue=h.queue,
    )
    h.started.append(handle.id)
    expected = 0
    signals: list[tuple[str, type[BaseModel], dict[str, Any]]] = [
        ("post", InboxItem, ITEM),
        (
            messages.BIDS,
            BidBatch,
            {"bids": [{"message_id": "m1", "persona_id": "p1", "score_bp": 10}]},
        ),
    ]
    for name, model, valid in signals:
        payloads = hostile_list(valid, SIGNAL_EXAMPLES)
        _, invalid, _ = classify(payloads, model)
        expected += invalid + await send_signals(h, handle, name, payloads)
    persona_id = value_where(
        str, lambda v: isinstance(v, str) and re.fullmatch(IDENTIFIER, v) is not None
    )
    for name in ("join", "leave"):
        payloads = hostile_list({"v": "p3"}, UPDATE_EXAMPLES)
        await refused_updates(h, handle, name, payloads, persona_id)
    await junk_queries(handle, ["view"])
    view = await eventually(
        lambda: handle.query(RoomCoordinator.view), lambda v: v.rejected >= expected, timeout_s=60
    )
    assert view.rejected == expected
    await no_task_failed(handle)
    valid = RoomInput(room_id="r", members=["p"]).model_dump()
    await hostile_starts(h, RoomCoordinator.run, valid, RoomInput, "room-hostile")


# ------------------------------------------------------------------------------- Funding
async def test_funding_cycle_refuses_every_hostile_message(h: Harness) -> None:
    pid = uuid.uuid4().hex
    funding = FundingClient(h.client, h.store, h.queue)
    handle = await h.client.start_workflow(
        FundingCycle.run,
        FundingCycleInput(
            persona_id=pid,
            entity_id="acme",
            funding_limit=10_000_000,
            allocation=1_000_000,
            config=CycleConfig(period_s=3_600),
        ),
        id=funding_workflow_id(pid),
        task_queue=h.queue,
    )
    h.started.append(handle.id)
    for name in ("run_cycle", "funds_arrived"):
        await send_signals(h, handle, name, hostile_list({"v": 1}, SIGNAL_EXAMPLES // 2))
    allocation = value_where(
        object, lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10_000_000
    )
    payloads = hostile_list({"v": 1}, UPDATE_EXAMPLES)
    await refused_updates(h, handle, "set_allocation", payloads, allocation)
    for value in ["x" * 1_000_000, "\ud800", "-1", "NaN", "1e400", str(10**30)]:
        await refuses(partial(funding.set_allocation, pid, value))
    await junk_queries(handle, ["view"])
    view = await handle.query(FundingCycle.view)
    assert view.funding_limit == 10_000_000
    await handle.signal(messages.STOP, json_payload({"why": "x" * 10_000}).raw())
    assert (await asyncio.wait_for(handle.result(), 60)).persona_id == pid
    await no_task_failed(handle)
    valid = FundingCycleInput(
        persona_id="p", entity_id="acme", funding_limit=10, allocation=1
    ).model_dump()
    await hostile_starts(h, FundingCycle.run, valid, FundingCycleInput, "funding-hostile")
    rotation = {"persona_id": "p", "overlap_s": 60}
    await hostile_starts(h, KeyRotation.run, rotation, RotateKeyRequest, "rotation-hostile")


# ------------------------------------------------------------------------------- Fleet
async def test_fleet_adaptation_refuses_or_records_every_hostile_message(h: Harness) -> None:
    fid = f"f{uuid.uuid4().hex[:8]}"
    persona = persona_for(fid, DEFAULT_CONFIG)
    fleets = FleetClient(h.client, h.store, h.queue)
    handle = await h.client.start_workflow(
        FleetAdaptation.run,
        acme_fleet(
            fid,
            persona,
            cadence_s=3_600,
            scenario=Scenario(rate_rps=50, duration_s=0.5),
        ),
        id=fleet_workflow_id(fid),
        task_queue=h.queue,
    )
    h.started.append(handle.id)
    payloads = hostile_list({"v": 0.5}, SIGNAL_EXAMPLES)
    _, invalid, _ = classify(payloads, RiskTolerance)
    expected = invalid + await send_signals(h, handle, messages.RISK, payloads)
    await send_signals(h, handle, "observe_now", hostile_list({"v": 1}, 1))
    updates: list[tuple[str, type[BaseModel], dict[str, Any]]] = [
        ("set_risk", RiskTolerance, {"v": 0.5}),
        ("set_shadow", ShadowMode, {"v": True}),
        ("set_context", FleetContext, FleetContext().model_dump()),
        ("set_persona", FleetPersona, persona.model_dump(mode="json")),
    ]
    for name, model, valid in updates:
        payloads = hostile_list(valid, UPDATE_EXAMPLES)
        await refused_updates(h, handle, name, payloads, valid_as(model))
    for call in [
        lambda: fleets.set_risk(fid, float("nan")),
        lambda: fleets.set_risk(fid, 10**400),
        lambda: fleets.set_shadow(fid, "yes"),  # type: ignore[arg-type]
        lambda: fleets.set_context(fid, {"hour": 99}),
        lambda: fleets.set_persona(fid, {**persona.model_dump(), "intents": ["x" * 100_000]}),
        lambda: fleets.set_persona(fid, {**persona.model_dump(), "fleet_id": "other"}),
    ]:
        await refuses(call)
    await junk_queries(handle, ["view"])
    view = await eventually(
        lambda: handle.query(FleetAdaptation.view), lambda v: v.rejected >= expected, timeout_s=60
    )
    assert view.rejected == expected
    assert all(len(e) <= 256 for e in view.errors)
    await handle.signal(messages.STOP, json_payload([1] * 10).raw())
    assert (await asyncio.wait_for(handle.result(), 60)).fleet_id == fid
    await no_task_failed(handle)
    valid = acme_fleet("f").model_dump(mode="json")
    await hostile_starts(h, FleetAdaptation.run, valid, FleetInput, "fleet-hostile")


async def test_ab_test_and_variant_start_inputs_that_do_not_decode_fail_once(h: Harness) -> None:
    config = DEFAULT_CONFIG.model_dump()
    ab = {"ab_id": "a", "fleet_id": "f", "variants": {"a": config}, "max_rounds": 1}
    await hostile_starts(h, FleetABTest.run, ab, ABInput, "abtest-hostile")
    variant = {"ab_id": "a", "fleet_id": "f", "name": "a", "config": config}
    await hostile_starts(h, FleetVariant.run, variant, VariantInput, "variant-hostile")
