"""A metered agent tool call pays for its bytes: it draws them from its turn's hold before it
runs (a hold with too little left refuses the call, audited, nothing run), the draw comes
down to the bytes it moved, and the turn's settle posts them with the model call.
On SQLite and PostgreSQL; the tool runs in a real Docker sandbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.agent.activities import AgentActivities
from activities.agent.contracts import ToolStepRequest
from activities.agent.fixtures import materialize
from activities.agent.store import AgentStore
from activities.funding.db import Database
from activities.funding.draws import HoldDraws, HoldExhausted, ToolDraw
from activities.funding.ledger import persona_balance, persona_spend
from activities.funding.service import Funding
from activities.providers import OfflineDeterministicProvider
from activities.store import Store
from personas.agent.resources import Level, Resource, ResourceType, parse_grant
from personas.agent.tools import MAX_CALL_BYTES, CheckedCall, ToolCall, check_call
from personas.funding.pricing import ModelPrice, PriceTable

PRICES = PriceTable(
    models={"m": ModelPrice(in_per_1k=1_000, out_per_1k=2_000)}, tool_bytes_per_mb=10_000
)
"""Ten micro-units a kilobyte: a full call (64 KiB) draws 656."""
START = 100_000


@pytest.fixture
def funding(store: Store) -> Funding:
    """Persona ``p1`` of ``acme`` with a balance of ``START`` and the fixtures granted."""
    db = Database(store.engine)
    funded = Funding(db, PRICES)
    store.upsert_entity("acme", "Acme")
    store.create_persona(
        kind="ai", persona_id="p1", entity_id="acme", name="Ada", body={}, created_by="t"
    )
    funded.setup_persona("acme", "p1")
    funded.deposit("seed", persona_balance("p1"), START)
    return funded


def _draw(step: int, hold_id: str = "p1:item-1") -> ToolDraw:
    return ToolDraw(hold_id=hold_id, step=step, persona_id="p1", entity_id="acme", tool="t")


def test_bytes_move_the_balance_by_the_rate_with_the_settle(funding: Funding) -> None:
    hold = funding.reserve(
        "p1:item-1", "p1", "m", 1_000, 1_000, timedelta(minutes=5), max_tool_bytes=2 * 65_536
    )
    assert hold.amount == 1_000 + 2_000 + 1_311  # 131,072 bytes at 10 a kB, rounded up
    draws = HoldDraws(funding.db, PRICES)
    drawn = draws.draw(_draw(1), 65_536)
    assert drawn == PRICES.tool_bytes(65_536) == 656
    assert draws.draw(_draw(1), 65_536) == drawn  # a retried draw takes nothing more
    assert draws.adjust(_draw(1), drawn, 12_345) == 124  # 12,345 bytes at 10 a kB, rounded up
    assert draws.adjust(_draw(1), drawn, 99) == 124  # once
    assert funding.ledger.get_hold("p1:item-1").charged == 124

    settled = funding.ledger.settle("p1:item-1", 1_500)  # the model call's price
    assert settled.charged == 1_500 + 124
    assert funding.ledger.balance(persona_balance("p1")) == START - 1_500 - 124
    assert funding.ledger.balance(persona_spend("p1")) == 1_500 + 124
    posting = funding.ledger.posting("settled:p1:item-1")
    assert posting is not None
    [event] = [u for u in funding.meter.usage(persona_id="p1") if u.kind == "tool_bytes"]
    assert (event.quantity, event.price, event.tx_id) == (12_345, 124, posting.tx_id)


def test_a_hold_too_small_for_the_bytes_refuses_and_changes_nothing(funding: Funding) -> None:
    funding.ledger.hold("p1:item-2", "p1", 700, timedelta(minutes=5))
    draws = HoldDraws(funding.db, PRICES)
    assert draws.draw(_draw(1, "p1:item-2"), 65_536) == 656
    with pytest.raises(HoldExhausted, match=r"0\.000044 left"):
        draws.draw(_draw(2, "p1:item-2"), 65_536)
    assert funding.ledger.get_hold("p1:item-2").charged == 656
    assert [u.event_key for u in funding.meter.usage(persona_id="p1")] == ["tool:p1:item-2:1"]
    funding.ledger.release("p1:item-2")  # the work failed: what the tool drew is still paid
    assert funding.ledger.balance(persona_balance("p1")) == START - 656
    with pytest.raises(HoldExhausted, match="released"):
        draws.draw(_draw(3, "p1:item-2"), 10)


@pytest.fixture
def acts(funding: Funding, store: Store, tmp_path: Path) -> Iterator[AgentActivities]:
    """Agent activities pricing at ``PRICES``, ``p1`` granted the handbook (sandboxes of a
    deployment id of this test's own, removed after)."""
    where = materialize(tmp_path / "agent")
    agents = AgentStore(store.engine)
    agents.add_resource(
        Resource(
            entity_id="acme",
            name="handbook",
            type=ResourceType.FILES,
            location=str(where["handbook"]),
            levels=(Level.READ,),
        )
    )
    agents.grant("p1", [parse_grant("handbook:read")])
    made = AgentActivities(
        store,
        OfflineDeterministicProvider(),
        deployment=f"test-{uuid.uuid4().hex[:10]}",
        prices=PRICES,
    )
    yield made
    for session in made.sandboxes.live():
        made.sandboxes.remove(session)


def _read(acts: AgentActivities, step: int, hold_id: str) -> ToolStepRequest:
    args = '{"resource": "handbook", "path": "refunds.md"}'
    checked = check_call(
        acts.agents.scope("p1"), ToolCall(call_id="c", tool="files.read", arguments=args)
    )
    assert isinstance(checked, CheckedCall)
    return ToolStepRequest(
        persona_id="p1",
        item_id=hold_id.split(":")[1],
        step=step,
        checked=checked,
        hold_id=hold_id,
        entity_id="acme",
    )


async def test_a_tool_call_pays_its_bytes_or_is_refused_before_it_runs(
    acts: AgentActivities, funding: Funding, tmp_path: Path
) -> None:
    funding.ledger.hold("p1:small", "p1", PRICES.tool_bytes(MAX_CALL_BYTES) - 1, timedelta(1))
    refused = await ActivityEnvironment().run(acts.tool_step, _read(acts, 1, "p1:small"))
    assert refused.refused
    assert not refused.ok
    assert not acts.executions  # nothing ran
    assert funding.ledger.get_hold("p1:small").charged == 0
    [audit] = acts.agents.tool_audit("p1")
    assert not audit.allowed
    assert "too little" in audit.reason

    funding.ledger.hold("p1:big", "p1", 10_000, timedelta(1))
    ran = await ActivityEnvironment().run(acts.tool_step, _read(acts, 1, "p1:big"))
    size = (tmp_path / "agent" / "handbook" / "refunds.md").stat().st_size
    assert ran.ok
    assert ran.bytes_read == size
    assert funding.ledger.get_hold("p1:big").charged == PRICES.tool_bytes(size)
    again = await ActivityEnvironment().run(acts.tool_step, _read(acts, 1, "p1:big"))
    assert again == ran  # the recorded step: nothing drawn again
    funding.ledger.settle("p1:big", 0)
    assert funding.ledger.balance(persona_spend("p1")) == PRICES.tool_bytes(size)
