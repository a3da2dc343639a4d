"""A revocation cuts everything downstream at once, a running turn included: a persona whose
resources were delegated to it loses them mid-turn when the delegator's grant is revoked."""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from activities.agent.sandbox import session_of
from activities.store import Store
from personas.agent.resources import parse_grant
from tests.workflow.agent_support import agent_rig


async def test_a_revoked_grant_cuts_the_delegate_mid_turn(
    dev_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    revoke_at: dict[str, str] = {}

    async def revoke_before_the_query(kind: str, item_id: str, step: int) -> None:
        """Between the turn's first and second tool call, revoke the delegator's shop."""
        if kind == "tool" and step == 2 and revoke_at:
            rig.acts.agents.revoke(revoke_at.pop("from"), "shop")

    async with agent_rig(
        dev_env.client, sqlite_store, tmp_path, before_step=revoke_before_the_query
    ) as rig:
        owner = await rig.agent("Ada", ["handbook:read", "shop:read"])
        helper = await rig.agent("Bea", [])
        scope = await rig.agents.delegate(
            owner, helper, [parse_grant("handbook"), parse_grant("shop")]
        )
        assert [h.resource.name for h in scope.resources] == ["handbook", "shop"]
        chains = await rig.agents.who_can_reach("acme", "shop")
        assert [r.chain for r in chains] == [(owner,), (owner, helper)]

        revoke_at["from"] = owner
        answer = await rig.ask(
            helper, "search the handbook for refunds are issued. how many orders in total?"
        )
        assert "14 days" in answer
        assert "shop failed: refused" in answer
        audit = await rig.agents.tool_audit(helper)
        assert [(a.tool, a.resource, a.allowed) for a in audit] == [
            ("files.search", "handbook", True),
            ("sql.query", "shop", False),
        ]
        assert "not in this persona's scope" in audit[1].reason
        container = rig.acts.sandboxes._container(session_of(helper))
        assert container is not None
        assert {m["Destination"] for m in container.attrs["Mounts"]} == {"/res/handbook"}
        assert await rig.agents.who_can_reach("acme", "shop") == []

        # the delegator's handbook revoked too: the helper's next turn has nothing
        await rig.agents.revoke(owner, "handbook")
        assert (await rig.agents.scope(helper)).resources == ()
        answer = await rig.ask(helper, "list the files in handbook")
        assert "handbook failed: refused" in answer
