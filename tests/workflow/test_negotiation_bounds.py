"""Hostile answers never wedge a negotiation: oversized, malformed and invalid values sent by
signal or update are refused (briefly quoted) or recorded, no workflow task fails (read from
the history), and the negotiation still answers queries and ends normally afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.store import Store
from clients.api import PersonaError
from personas import messages
from personas.instance.limits import INVALID_KEPT, REFUSAL_MAX
from personas.instance.negotiation import NegotiationConfig
from personas.instance.views import NegotiationView
from tests.helpers import eventually
from tests.workflow.negotiation_support import DockerProvider, Negotiator, negotiator

MB = "x" * 2**20
FAST = NegotiationConfig(round_timeout_s=3600, provision=False)


@pytest.fixture
async def neg(time_env: WorkflowEnvironment, sqlite_store: Store) -> AsyncIterator[Negotiator]:
    async with negotiator(time_env.client, sqlite_store, DockerProvider()) as n:
        yield n


def fields(**extra: object) -> dict[str, object]:
    out: dict[str, object] = {
        "entity_id": "acme",
        "name": "shop",
        "text": "a medium-sized e-commerce website",
        "config": FAST,
    }
    out.update(extra)
    return out


async def awaiting(neg: Negotiator, nid: str, round: int) -> NegotiationView:
    return await eventually(
        lambda: neg.view(nid), lambda v: v.round == round and v.status == "awaiting_answer"
    )


async def failed_tasks(neg: Negotiator, nid: str) -> int:
    handle = neg.client.get_workflow_handle(f"negotiation-{nid}")
    kinds = [e.event_type async for e in handle.fetch_history_events()]
    return kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)


HOSTILE: list[dict[str, Any]] = [
    {"kind": "add_constraint", "round": 1, "constraint": {"kind": "region", "value": MB}},
    {"kind": "add_constraint", "round": 1, "constraint": {"kind": "family", "value": MB}},
    {"kind": "modify", "round": 1, "changes": {"storage": MB}},
    {"kind": "modify", "round": 1, "changes": {"drop": ["requester.x"] * 10_000}},
    {"kind": "accept", "round": 1, "proposal_id": MB},
    {"kind": "reject", "round": 1, "reason": MB},
    {"kind": "reject", "round": 0, "reason": "stale"},
    {"kind": "add_constraint", "round": 1, "constraint": {"kind": "min_vcpu", "value": 1e300}},
]


async def test_megabyte_answers_by_signal_never_fail_a_workflow_task(neg: Negotiator) -> None:
    nid = await neg.start(**fields())
    await awaiting(neg, nid, 1)
    handle = neg.client.get_workflow_handle(f"negotiation-{nid}")
    for payload in HOSTILE:
        await handle.signal(messages.ANSWER, payload)
    for _ in range(INVALID_KEPT):
        await handle.signal(messages.ANSWER, {"kind": "accept", "round": 1, "proposal_id": "r9"})
    v = await eventually(
        lambda: neg.view(nid),
        lambda v: v.invalid_count == len(HOSTILE) + INVALID_KEPT,
    )
    assert len(v.invalid_answers) == INVALID_KEPT
    assert all(len(m) <= REFUSAL_MAX for m in v.invalid_answers)
    assert v.status == "awaiting_answer"
    assert v.round == 1
    assert await failed_tasks(neg, nid) == 0
    await neg.reject(nid, 1, "done", final=True)
    final = await neg.result(nid)
    assert final.status == "rejected"
    assert await failed_tasks(neg, nid) == 0


async def test_megabyte_answers_by_update_are_refused_in_one_short_line(neg: Negotiator) -> None:
    nid = await neg.start(**fields())
    await awaiting(neg, nid, 1)
    handle = neg.client.get_workflow_handle(f"negotiation-{nid}")
    for payload in HOSTILE:
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(messages.ANSWER, payload)
        assert len(str(err.value.cause)) <= REFUSAL_MAX + 200
    v = await neg.view(nid)
    assert v.status == "awaiting_answer"
    assert v.round == 1
    assert await failed_tasks(neg, nid) == 0
    view = await neg.add_constraint(nid, 1, "min_vcpu", 2)
    assert view is not None
    assert view.round == 2
    assert await failed_tasks(neg, nid) == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda n, nid: n.reject(nid, 1, ""),
        lambda n, nid: n.reject(nid, 1, MB),
        lambda n, nid: n.reject(nid, 1, "bad \ud800 reason"),
        lambda n, nid: n.reject(nid, 0, "round zero"),
        lambda n, nid: n.accept(nid, 0, "r1-p1"),
        lambda n, nid: n.accept(nid, 1, MB),
        lambda n, nid: n.accept(nid, 1, "\ud800"),
        lambda n, nid: n.modify(nid, 1, None, {"storage": MB}),
        lambda n, nid: n.modify(nid, 0, None, {}),
        lambda n, nid: n.add_constraint(nid, 1, "region", MB),
    ],
)
async def test_client_refuses_bad_answers_in_one_line(neg: Negotiator, call: Any) -> None:
    with pytest.raises(PersonaError) as err:
        await call(neg, "no-such-negotiation")
    message = str(err.value)
    assert "\n" not in message
    assert len(message) <= REFUSAL_MAX
    assert "x" * 100 not in message


async def test_negative_cost_overrides_are_refused_at_start(neg: Negotiator) -> None:
    with pytest.raises(PersonaError, match=r"cost\.max_hourly") as err:
        await neg.start(**fields(persona_overrides={"cost": {"max_hourly": -1}}))
    assert "\n" not in str(err.value)
    with pytest.raises(PersonaError, match="not a section"):
        await neg.start(**fields(persona_overrides={"wallet": {"x": 1}}))
    with pytest.raises(PersonaError, match="at most 8192"):
        await neg.start(**fields(persona_overrides={"description": MB}))


async def test_counter_offer_zones_and_unknown_names_on_the_one_channel(neg: Negotiator) -> None:
    nid = await neg.start(**fields(text=None, base="web_server"))
    v1 = await awaiting(neg, nid, 1)
    with pytest.raises(PersonaError, match="unknown region 'mars-north'; valid: ap-south"):
        await neg.add_constraint(nid, 1, "region", "mars-north")
    with pytest.raises(PersonaError, match="unknown storage 'floppy'; valid: net-ssd-gp"):
        await neg.modify(nid, 1, None, {"storage": "floppy"})
    dear = max(v1.proposals, key=lambda p: p.hourly)
    v2 = await neg.counter_offer(nid, 1, dear.proposal_id, max_hourly=round(dear.hourly * 0.8, 4))
    assert v2 is not None
    offer = v2.proposals[0]
    assert offer.label == "counter_offer"
    assert offer.family == dear.family
    assert offer.hourly <= dear.hourly * 0.8 + 1e-6
    assert offer.monthly == pytest.approx(offer.hourly * 730, abs=0.05)
    v3 = await neg.add_constraint(nid, 2, "zones", 3)
    assert v3 is not None
    assert all(p.zones == 3 and p.replicas >= 3 for p in v3.proposals)
    assert await failed_tasks(neg, nid) == 0


async def test_unknown_region_in_the_start_constraints_ends_it_naming_the_valid_ones(
    neg: Negotiator,
) -> None:
    nid = await neg.start(**fields(constraints=[{"kind": "region", "value": "atlantis"}]))
    final = await neg.result(nid)
    assert final.status == "failed"
    assert "unknown region 'atlantis'; valid: ap-south, eu-west, us-east" in final.reason


@pytest.mark.parametrize(
    "raw",
    [
        {"negotiation_id": "raw-cost", "entity_id": "acme", "name": "shop", "base": "web_server",
         "persona_overrides": {"cost": {"max_hourly": -1}}},
        {"negotiation_id": "raw-big", "entity_id": "acme", "name": "shop", "text": MB},
        {"negotiation_id": "raw-type", "entity_id": "acme", "name": 7},
        "garbage",
    ],
)  # fmt: skip
async def test_a_raw_start_with_bad_input_ends_failed_without_failing_a_task(
    neg: Negotiator, raw: object
) -> None:
    nid = f"raw-{uuid.uuid4().hex[:8]}"
    handle = await neg.client.start_workflow(
        "InstanceNegotiation",
        raw,
        id=f"negotiation-{nid}",
        task_queue=neg.task_queue,
        result_type=NegotiationView,
    )
    neg.started.append(nid)
    final = await handle.result()
    assert final.status == "failed"
    assert final.reason.startswith("invalid negotiation input: ")
    assert len(final.reason) <= REFUSAL_MAX
    assert await failed_tasks(neg, nid) == 0
