"""``personas instance ...``: negotiate instances from the command line.

Wiring (in clients/cli.py ``build_parser``): ``add_instance_commands(sub)``. Each command's
handler is ``run_instance_command(ctx, args)``-compatible: it takes the CLI context (anything
with ``personas()`` returning a connected PersonaClient and ``emit(data, text)``) and the
parsed arguments; ``temporal=True`` is set so the CLI's deadline applies.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from clients.api import PersonaError
from clients.cli_args import CommandGroup
from clients.instance_api import InstanceClient
from personas.instance.base import BASE_PERSONAS
from personas.instance.views import NegotiationView


async def _client(ctx: Any) -> InstanceClient:
    personas = await ctx.personas()
    return InstanceClient(personas.client, personas.store, personas.task_queue)


def view_text(v: NegotiationView) -> str:
    """A negotiation as readable lines: status, then each round's proposals and answer."""
    lines = [f"negotiation {v.negotiation_id}: {v.status} (round {v.round}/{v.max_rounds})"]
    if v.reason:
        lines.append(f"  {v.reason}")
    for r in v.rounds:
        lines.append(
            f"round {r.number}" + (f" -> {r.answer} ({r.answered_by})" if r.answer else "")
        )
        for p in r.proposals:
            lines.append(
                f"  {p.proposal_id} {p.label:<17} {p.instance_type:<22} {p.storage}/"
                f"{p.raid} {p.tenancy} x{p.replicas} ${p.hourly:.4f}/h ${p.monthly:,.2f}/month"
                + (f" zones {p.zones}" if p.zones else "")
            )
            lines.append(f"      {p.trade_off}")
        if r.infeasibility is not None:
            lines.append(f"  infeasible: {r.infeasibility.message}")
            lines += [f"    relax {x.requirement}: {x.note}" for x in r.infeasibility.relaxations]
    if v.instance is not None:
        lines.append(
            f"instance: {v.instance.provider} {', '.join(h[:12] for h in v.instance.handles)}"
        )
    if v.evolution is not None:
        lines.append(f"persona v{v.evolution.version} proposed: {v.evolution.reason}")
    return "\n".join(lines)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


async def _start(ctx: Any, args: argparse.Namespace) -> None:
    client = await _client(ctx)
    fields: dict[str, Any] = {"entity_id": args.entity, "name": args.name}
    if args.base:
        fields["base"] = args.base
    if args.text:
        fields["text"] = args.text
    if args.workload:
        fields["workload"] = _value(args.workload)
    fields["constraints"] = [{"kind": k, "value": _value(v)} for k, v in args.constraint]
    if args.policy:
        fields["policy"] = _value(args.policy)
    fields["config"] = {
        "max_rounds": args.max_rounds,
        "round_timeout_s": args.round_timeout,
        "provision": not args.no_provision,
    }
    nid = await client.start(**fields)
    ctx.emit({"negotiation_id": nid}, nid)


async def _show(ctx: Any, args: argparse.Namespace) -> None:
    v = await (await _client(ctx)).view(args.negotiation)
    ctx.emit(v, view_text(v))


async def _answer(ctx: Any, args: argparse.Namespace) -> None:
    client, nid, wait = await _client(ctx), args.negotiation, not args.signal
    if args.instance_command == "accept":
        v = await client.accept(nid, args.round, args.proposal, wait)
    elif args.instance_command == "reject":
        v = await client.reject(nid, args.round, args.reason, args.final, wait)
    elif args.instance_command == "constrain":
        v = await client.add_constraint(nid, args.round, args.kind, _value(args.value), wait)
    elif args.instance_command == "counter":
        v = await client.counter_offer(
            nid, args.round, args.proposal, args.max_hourly, args.max_monthly, wait
        )
    else:
        changes = _value(args.changes)
        if not isinstance(changes, dict):
            raise PersonaError('changes must be a JSON object, e.g. \'{"tenancy": "dedicated"}\'')
        v = await client.modify(nid, args.round, args.proposal, changes, wait)
    if v is None:
        ctx.emit({"sent": True}, "sent")
    else:
        ctx.emit(v, view_text(v))


async def _personas(ctx: Any, args: argparse.Namespace) -> None:
    client = await _client(ctx)
    if args.persona:
        records = await client.persona_versions(args.persona)
    else:
        records = await client.list_personas(args.entity)
    lines = [
        f"{r.persona_id} v{r.version} {r.name} by {r.created_by} "
        f"{r.created_at:%Y-%m-%d %H:%M} used {r.usage_count}x "
        f"{r.body.get('persona', {}).get('status', '')}"
        for r in records
    ]
    ctx.emit(records, "\n".join(lines) or "no instance personas")


async def _bases(ctx: Any, args: argparse.Namespace) -> None:
    lines = [f"{name}: {p.description}" for name, p in sorted(BASE_PERSONAS.items())]
    ctx.emit({n: p.model_dump(mode="json") for n, p in BASE_PERSONAS.items()}, "\n".join(lines))


async def _release(ctx: Any, args: argparse.Namespace) -> None:
    await (await _client(ctx)).release(args.negotiation)
    ctx.emit({"released": True}, "release requested")


def add_instance_commands(subparsers: Any) -> None:
    """Add ``instance start|show|accept|modify|reject|constrain|counter|release`` to a CLI."""
    command = CommandGroup(subparsers, "instance", "negotiate and provision instances").command

    p = command("start", _start, "start a negotiation; prints its id")
    p.add_argument("--entity", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--base", help="web_server, database, analytics_engine or message_queue")
    p.add_argument("--text", help="free text, e.g. 'run a medium-sized e-commerce website'")
    p.add_argument("--workload", metavar="JSON", help="structured workload as JSON")
    p.add_argument("--constraint", nargs=2, action="append", default=[], metavar=("KIND", "VALUE"))
    p.add_argument("--policy", metavar="JSON", help="answer automatically with this policy")
    p.add_argument("--max-rounds", type=int, default=5)
    p.add_argument("--round-timeout", type=float, default=3600.0, metavar="S")
    p.add_argument("--no-provision", action="store_true")

    def answer(name: str, help: str) -> argparse.ArgumentParser:
        """A command answering a round: the negotiation, the round and ``--signal``."""
        p = command(name, _answer, help)
        p.add_argument("negotiation", metavar="NEGOTIATION")
        p.add_argument("round", type=int, metavar="ROUND")
        p.add_argument("--signal", action="store_true", help="send by signal, do not wait")
        return p

    p = command("show", _show, "a negotiation's rounds, proposals and outcome")
    p.add_argument("negotiation", metavar="NEGOTIATION")
    p = answer("accept", "accept a proposal")
    p.add_argument("proposal", metavar="PROPOSAL")
    p = answer("modify", "ask for a proposal with changes (JSON)")
    p.add_argument("changes", metavar="CHANGES")
    p.add_argument("--proposal", metavar="PROPOSAL")
    p = answer("reject", "reject the round's proposals")
    p.add_argument("reason", metavar="REASON")
    p.add_argument("--final", action="store_true", help="end the negotiation")
    p = answer("constrain", "add a hard constraint")
    p.add_argument("kind", metavar="KIND")
    p.add_argument("value", metavar="VALUE")
    p = answer("counter", "this proposal's shape, at most this price")
    p.add_argument("proposal", metavar="PROPOSAL")
    price = p.add_mutually_exclusive_group(required=True)
    price.add_argument("--max-hourly", type=float, metavar="USD")
    price.add_argument("--max-monthly", type=float, metavar="USD")
    p = command("personas", _personas, "stored instance personas, or one's versions")
    p.add_argument("persona", nargs="?", metavar="PERSONA_ID")
    p.add_argument("--entity")
    command("bases", _bases, "the predefined base personas")
    p = command("release", _release, "release the provisioned instance")
    p.add_argument("negotiation", metavar="NEGOTIATION")


async def run_instance_command(ctx: Any, args: argparse.Namespace) -> None:
    """Run a parsed ``instance`` command with the CLI context (what ``handler`` points at)."""
    await args.handler(ctx, args)
