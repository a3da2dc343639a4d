"""The ``instance`` CLI commands against the dev server, through ``add_instance_commands``."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.store import Store
from clients.api import PersonaClient, PersonaError
from clients.instance_cli import add_instance_commands, run_instance_command
from tests.helpers import CliContext, eventually
from tests.workflow.negotiation_support import DockerProvider, Negotiator, negotiator


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


@pytest.fixture
async def neg(dev_env: WorkflowEnvironment, store: Store) -> AsyncIterator[Negotiator]:
    async with negotiator(dev_env.client, store, DockerProvider()) as n:
        yield n


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="personas")
    add_instance_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


async def run(ctx: CliContext, argv: list[str]) -> Any:
    await run_instance_command(ctx, parse(argv))
    return ctx.out[-1]


async def test_start_show_constrain_and_accept(neg: Negotiator) -> None:
    ctx = CliContext(PersonaClient(neg.client, neg.store, neg.task_queue))
    _, nid = await run(
        ctx,
        [
            "instance",
            "start",
            "--entity",
            "acme",
            "--name",
            "api",
            "--text",
            "an api with 200 requests per second",
            "--no-provision",
        ],
    )
    neg.started.append(nid)
    await eventually(lambda: neg.view(nid), lambda v: v.status == "awaiting_answer")
    _, text = await run(ctx, ["instance", "show", nid])
    assert "round 1" in text
    assert "r1-p1 cheapest" in text
    _, sent = await run(ctx, ["instance", "constrain", nid, "1", "min_vcpu", "8", "--signal"])
    assert sent == "sent"
    v2 = await eventually(lambda: neg.view(nid), lambda v: v.round == 2)
    assert all(p.vcpu >= 8 for p in v2.proposals)
    dear = max(v2.proposals, key=lambda p: p.hourly)
    v3, text = await run(
        ctx, ["instance", "counter", nid, "2", dear.proposal_id, "--max-hourly", "100"]
    )
    assert v3.proposals[0].label == "counter_offer"
    assert v3.proposals[0].instance_type == dear.instance_type  # it already fits the price
    assert "counter_offer" in text
    assert "/month" in text
    done, text = await run(ctx, ["instance", "accept", nid, "3", v3.proposals[0].proposal_id])
    assert done.status == "agreed"
    assert "agreed" in text
    records, listing = await run(ctx, ["instance", "personas", "--entity", "acme"])
    assert [r.persona_id for r in records] == [f"inst-{nid}"]
    assert "v1 api by requester" in listing
    _, bases = await run(ctx, ["instance", "bases"])
    assert "message_queue:" in bases


async def test_bad_input_is_a_clear_error(neg: Negotiator) -> None:
    ctx = CliContext(PersonaClient(neg.client, neg.store, neg.task_queue))
    with pytest.raises(PersonaError, match="unknown base persona 'mainframe'"):
        await run(
            ctx, ["instance", "start", "--entity", "acme", "--name", "x", "--base", "mainframe"]
        )
    with pytest.raises(PersonaError, match="changes must be a JSON object"):
        await run(ctx, ["instance", "modify", "nope", "1", "[1]"])
    with pytest.raises(PersonaError, match="unknown negotiation nope"):
        await run(ctx, ["instance", "show", "nope"])
