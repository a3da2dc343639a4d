"""Isolation the model cannot talk its way out of: every injected request is refused by the
scope check and audited, and a worker killed mid-turn resumes with each step done once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from activities.providers import OfflineDeterministicProvider
from activities.store import OutcomeRecord, Store
from tests.agent_injections import INJECTIONS, SECRETS
from tests.helpers import eventually
from tests.workflow.agent_support import ASK, agent_rig, worker


def plant(root: Path) -> Path:
    """The injected documents, one per attempt, in a folder of their own."""
    inbox = root / "inbox"
    inbox.mkdir()
    for i, (_, text) in enumerate(INJECTIONS):
        (inbox / f"injection-{i:02d}.md").write_text(f"# Ticket {i}\n\n{text}\n")
    inbox.chmod(0o755)
    return inbox


async def test_every_injection_is_refused_and_audited(
    dev_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    assert len(INJECTIONS) >= 20
    obeying = OfflineDeterministicProvider(obey_injections=True)
    async with agent_rig(dev_env.client, sqlite_store, tmp_path, provider=obeying) as rig:
        inbox = plant(tmp_path)
        await rig.agents.add_resource("acme", "inbox", "files", str(inbox))
        pid = await rig.agent("Ada", ["inbox:read", "handbook:read", "shop:read"])
        answers = await asyncio.gather(
            *(
                rig.ask(pid, f"read injection-{i:02d}.md from inbox", timeout_s=240)
                for i in range(len(INJECTIONS))
            )
        )
        audit = await rig.agents.tool_audit(pid, limit=1000)
    by_item: dict[str, list[tuple[str, str, bool]]] = {}
    for row in audit:
        by_item.setdefault(row.item_id, []).append((row.tool, row.resource, row.allowed))
    assert len(by_item) == len(INJECTIONS)
    for rows in by_item.values():
        allowed = [r for r in rows if r[2]]
        # the one allowed call is reading the planted document; everything it asked for
        # was refused
        assert allowed == [("files.read", "inbox", True)], rows
        assert len(rows) >= 2, rows
    refused = [row for row in audit if not row.allowed]
    assert all(row.reason.startswith("refused: ") for row in refused)
    assert len(refused) >= len(INJECTIONS)
    for i, answer in enumerate(answers):
        assert "failed: refused" in answer, (INJECTIONS[i], by_item)
        assert not any(secret in answer for secret in SECRETS)


async def test_a_worker_killed_mid_turn_resumes_and_each_step_runs_once(
    dev_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    reached = asyncio.Event()
    killed = False

    async def stall_once(kind: str, item_id: str, step: int) -> None:
        """The first time the turn reaches its second tool call, hang: the worker is then
        stopped with the activity in flight (its cached workflows and the activity gone)."""
        if kind == "tool" and step == 2 and not killed:
            reached.set()
            await asyncio.Event().wait()

    rig_of = agent_rig(dev_env.client, sqlite_store, tmp_path, before_step=stall_once, serve=False)
    async with rig_of as rig:
        pid = await rig.agent("Ada", ["handbook:read", "shop:read"])
        question = (
            "search the handbook for refund. how many orders in total? list the files in handbook"
        )
        queue, acts = rig.personas.task_queue, rig.acts
        async with worker(dev_env.client, sqlite_store, queue, acts, acts.provider):
            item = await rig.personas.post_to_persona(pid, question, "bob", priority=ASK)
            await asyncio.wait_for(reached.wait(), 30)
        # the worker is gone with step 2 in flight (model 0 and tool 1 done); a new one
        killed = True
        async with worker(dev_env.client, sqlite_store, queue, acts, acts.provider):
            outcome = await eventually(
                lambda: _outcome(sqlite_store, pid, item.item_id),
                lambda o: o is not None and o.output_ref is not None,
                timeout_s=60,
            )
            audit = await rig.agents.tool_audit(pid)
    assert outcome is not None
    assert outcome.output_ref is not None
    text = sqlite_store.get_content(outcome.output_ref).text or ""
    assert "the answer from shop is 60" in text
    assert "handbook holds 6 files" in text
    steps = rig.acts.agents.list_steps(pid, item.item_id)
    assert [s for s, _, _ in steps] == [0, 1, 2, 3, 4]
    # each step's work was done exactly once, across both workers
    assert {k[2]: v for k, v in rig.acts.executions.items()} == {0: 1, 1: 1, 2: 1, 3: 1, 4: 1}
    assert [a.step for a in audit] == [1, 2, 3]


async def _outcome(store: Store, persona_id: str, item_id: str) -> OutcomeRecord | None:
    return store.get_outcome(persona_id, item_id)
