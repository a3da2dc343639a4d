"""An agent turn ends cleanly at its step limit and when its budget hold is spent, and a
metered turn's tool calls are settled into the funding ledger with their meters audited."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.funding.db import Database
from activities.funding.ledger import persona_balance, persona_held
from activities.funding.metering import UsageRecord
from activities.funding.service import Funding
from activities.store import Store
from personas import messages
from personas.agent.resources import parse_grant
from personas.agent.turn import agent_turn_workflow_id
from personas.funding.pricing import PriceTable
from personas.ids import persona_workflow_id
from personas.life import LifeConfig
from tests.helpers import eventually, profile
from tests.workflow.agent_support import AgentRig, agent_rig
from workers import registry

THREE_TOOLS = "search the handbook for refund. how many orders in total? list the files in handbook"
UNIT = 1_000_000


async def _turn_status(rig: AgentRig, persona_id: str, item_id: str) -> WorkflowExecutionStatus:
    handle = rig.personas.client.get_workflow_handle(agent_turn_workflow_id(persona_id, item_id))
    status = (await handle.describe()).status
    assert status is not None
    return status


async def _usage(funding: Funding, persona_id: str) -> list[UsageRecord]:
    return funding.meter.usage(persona_id=persona_id)


async def _kinds(rig: AgentRig, persona_id: str) -> list[list[str]]:
    audit = await rig.agents.tool_audit(persona_id)
    items = sorted({a.item_id for a in audit})
    return [[kind for _, kind, _ in rig.acts.agents.list_steps(persona_id, i)] for i in items]


async def test_the_step_limit_and_a_spent_budget_end_a_turn_cleanly(
    dev_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    async with agent_rig(dev_env.client, sqlite_store, tmp_path) as rig:
        limited = await rig.agent("Ada", ["handbook:read", "shop:read"], steps=3)
        record = await rig.personas.create_persona(
            profile("Bea", access_scope=()),
            created_by="test",
            life=LifeConfig(agent_max_steps=8, max_tokens_in=5),
        )
        poor = record.persona_id
        await rig.agents.grant(poor, [parse_grant("handbook:read"), parse_grant("shop:read")])

        answer = await rig.ask(limited, THREE_TOOLS)
        assert answer.startswith("[turn ended: the step limit is reached after 3 steps")
        assert "2 tool calls, 0 refused" in answer
        assert await _kinds(rig, limited) == [["model", "tool", "tool"]]

        # the first model call takes more than the 5 tokens held: its tool calls run, the
        # next model call is never made
        answer = await rig.ask(poor, THREE_TOOLS)
        assert answer.startswith("[turn ended: the budget hold is spent after 4 steps")
        assert await _kinds(rig, poor) == [["model", "tool", "tool", "tool"]]

        for pid in (limited, poor):
            [item_id] = {a.item_id for a in await rig.agents.tool_audit(pid)}
            # the answer is recorded by the turn's last activity, before the turn returns
            status = await eventually(
                functools.partial(_turn_status, rig, pid, item_id),
                lambda s: s != WorkflowExecutionStatus.RUNNING,
            )
            assert status == WorkflowExecutionStatus.COMPLETED
        # both lives go on: the limited persona answers a one-tool question in full
        answer = await rig.ask(limited, "list the files in handbook")
        assert "handbook holds 6 files" in answer


async def test_a_metered_turn_settles_its_tool_calls_in_the_ledger(
    dev_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    rig_of = agent_rig(dev_env.client, sqlite_store, tmp_path, serve=False)
    funding = Funding(Database(sqlite_store.url))
    async with rig_of as rig:
        queue, acts = rig.personas.task_queue, rig.acts
        both = registry.life(sqlite_store, acts.provider, dev_env.client, queue, agent=acts)
        both = both + registry.funding(sqlite_store, dev_env.client)
        pool = ThreadPoolExecutor(max_workers=8)  # the funding activities are sync
        async with registry.Workers(dev_env.client, queue, both, activity_executor=pool):
            pid = await rig.agent("Ada", ["handbook:read", "shop:read"])
            funding.setup_persona("acme", pid)
            funding.deposit("seed", persona_balance(pid), UNIT)
            await rig.personas.start_life(pid)
            life = dev_env.client.get_workflow_handle(persona_workflow_id(pid))
            assert await life.execute_update(messages.SET_METERING, True) is True
            answer = await rig.ask(pid, THREE_TOOLS)
            # the life settles the hold once the turn has returned
            settled = await eventually(
                lambda: _usage(funding, pid),
                lambda u: len(u) == 5 and all(e.tx_id for e in u),
                timeout_s=30,
            )
            audit = await rig.agents.tool_audit(pid)
    funding.db.dispose()
    assert "the answer from shop is 60" in answer
    [item_id] = {a.item_id for a in audit}
    steps = rig.acts.agents.list_steps(pid, item_id)
    model_ms = sum(r["compute_ms"] for _, kind, r in steps if kind == "model")
    tool_cpu_ms = sum(r["outcome"]["cpu_ms"] for _, kind, r in steps if kind == "tool")
    # every tool call is audited with its output reference and meters
    assert [a.allowed for a in audit] == [True, True, True]
    assert [a.cpu_ms for a in audit] == [
        r["outcome"]["cpu_ms"] for _, kind, r in steps if kind == "tool"
    ]
    assert all(a.bytes_read > 0 and a.result_ref for a in audit)
    usage = {u.kind: u for u in settled if u.kind != "tool_bytes"}
    assert set(usage) == {"model_call", "compute"}
    # each tool call paid its bytes at the rate, in the turn's settle posting
    tool_bytes = [u for u in settled if u.kind == "tool_bytes"]
    assert [u.quantity for u in tool_bytes] == [a.bytes_read for a in audit]
    assert [u.price for u in tool_bytes] == [PriceTable().tool_bytes(a.bytes_read) for a in audit]
    assert {u.tx_id for u in tool_bytes} == {usage["model_call"].tx_id}
    # the hold settled the model calls' time and the sandbox's CPU time together
    assert usage["compute"].quantity == model_ms + tool_cpu_ms
    assert all(u.tx_id is not None for u in usage.values())
    charged = sum(u.price for u in settled)
    assert funding.ledger.balance(persona_balance(pid)) == UNIT - charged
    assert funding.ledger.balance(persona_held(pid)) == 0
