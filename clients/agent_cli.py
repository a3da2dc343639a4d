"""``personas resource add|show|remove``, ``grant``, ``revoke``, ``delegate``,
``undelegate``, ``reach``, ``tools``, ``tool-audit``, ``replies``, ``memory``.

Wiring (in clients/cli.py ``build_parser``): ``add_agent_commands(sub, command)``, where
``command`` is the CLI's own command factory. Store-only commands: no Temporal needed.
"""

from __future__ import annotations

import argparse
from typing import Any

from activities.agent.store import MAX_ITEMS, ToolAuditRecord
from clients.agent_api import AgentClient, Reply
from clients.cli_args import non_negative_int
from clients.life_cli import ANSWER_CHARS
from personas.agent.memory import Memory
from personas.agent.resources import Grant, parse_grant


def _count(value: str) -> int:
    n = non_negative_int(value)
    if not 1 <= n <= MAX_ITEMS:
        raise argparse.ArgumentTypeError(f"expected 1..{MAX_ITEMS}, got {n}")
    return n


def _grant(value: str) -> Grant:
    try:
        return parse_grant(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


async def _resource_add(ctx: Any, args: argparse.Namespace) -> None:
    levels = ["read", "write"] if args.writable else ["read"]
    r = await AgentClient(ctx.store).add_resource(
        args.entity, args.name, args.type, args.location, levels, args.description
    )
    ctx.emit(r.model_dump(mode="json"), f"{r.entity_id}: {r.name} ({r.type}) at {r.location}")


async def _resource_show(ctx: Any, args: argparse.Namespace) -> None:
    rows = await AgentClient(ctx.store).resources(args.entity)
    text = "\n".join(
        f"{r.name}  {r.type}  {r.location}  grantable: {'/'.join(r.levels)}" for r in rows
    )
    ctx.emit([r.model_dump(mode="json") for r in rows], text or "no resources")


async def _resource_remove(ctx: Any, args: argparse.Namespace) -> None:
    revoked = await AgentClient(ctx.store).remove_resource(args.entity, args.name)
    ctx.emit(
        {"removed": args.name, "grants_revoked": revoked},
        f"removed {args.name}; {revoked} grants revoked",
    )


async def _grant_cmd(ctx: Any, args: argparse.Namespace) -> None:
    persona = await ctx.resolve(args.persona)
    scope = await AgentClient(ctx.store).grant(persona, args.scopes)
    held = [f"{r.resource.name}:{r.level}" for r in scope.resources]
    ctx.emit({"persona_id": persona, "scope": held}, f"scope: {', '.join(held) or 'nothing'}")


async def _revoke_cmd(ctx: Any, args: argparse.Namespace) -> None:
    persona = await ctx.resolve(args.persona)
    done = await AgentClient(ctx.store).revoke(persona, args.resource)
    ctx.emit({"revoked": done}, "revoked" if done else f"{args.resource} was not granted")


async def _delegate_cmd(ctx: Any, args: argparse.Namespace) -> None:
    giver, taker = await ctx.resolve(args.giver), await ctx.resolve(args.taker)
    scope = await AgentClient(ctx.store).delegate(giver, taker, args.scopes)
    held = [f"{r.resource.name}:{r.level}" for r in scope.resources]
    ctx.emit({"persona_id": taker, "scope": held}, f"scope: {', '.join(held) or 'nothing'}")


async def _undelegate_cmd(ctx: Any, args: argparse.Namespace) -> None:
    giver, taker = await ctx.resolve(args.giver), await ctx.resolve(args.taker)
    done = await AgentClient(ctx.store).undelegate(giver, taker, args.resource)
    ctx.emit({"revoked": done}, "revoked" if done else f"{args.resource} was not delegated")


async def _reach_cmd(ctx: Any, args: argparse.Namespace) -> None:
    rows = await AgentClient(ctx.store).who_can_reach(args.entity, args.resource)
    text = "\n".join(f"{r.persona_id}  {r.level}  via {' > '.join(r.chain)}" for r in rows)
    ctx.emit([r.model_dump(mode="json") for r in rows], text or "nobody reaches it")


async def _tools_cmd(ctx: Any, args: argparse.Namespace) -> None:
    persona = await ctx.resolve(args.persona)
    defs = await AgentClient(ctx.store).tools(persona)
    text = "\n".join(
        f"{d['function']['name']}  on "
        + ", ".join(d["function"]["parameters"]["properties"]["resource"]["enum"])
        for d in defs
    )
    ctx.emit(defs, text or "no tools: nothing in scope")


async def _audit_cmd(ctx: Any, args: argparse.Namespace) -> None:
    persona = await ctx.resolve(args.persona)
    rows = await AgentClient(ctx.store).tool_audit(persona, args.n)
    text = "\n".join(
        f"{r.at:%Y-%m-%d %H:%M:%S} {r.item_id} #{r.step} {r.tool} {r.resource} "
        f"{'allowed' if r.allowed else 'REFUSED: ' + r.reason}"
        for r in rows
    )
    ctx.emit([r.model_dump(mode="json") for r in rows], text or "no tool calls")


def _trace_line(a: ToolAuditRecord) -> str:
    verdict = "allowed" if a.allowed else "REFUSED"
    line = f"  #{a.step} {a.tool} {a.resource} {verdict}: {a.reason[:200]}"
    if a.allowed:
        line += f" -> {a.result_ref} ({a.cpu_ms} ms cpu, {a.bytes_read} bytes read)"
    return line


def _reply_text(r: Reply) -> str:
    head = f"{r.recorded_at:%Y-%m-%d %H:%M:%S} {r.item_id} {r.purpose} ({r.turn}, {r.steps} steps)"
    answer = " ".join((r.answer or "(no answer stored)").split())[:ANSWER_CHARS]
    return "\n".join([head, f"  answer: {answer}", *(_trace_line(a) for a in r.trace)])


async def _replies_cmd(ctx: Any, args: argparse.Namespace) -> None:
    persona = await ctx.resolve(args.persona)
    rows = await AgentClient(ctx.store).replies(persona, args.n)
    text = "\n".join(_reply_text(r) for r in rows)
    ctx.emit([r.model_dump(mode="json") for r in rows], text or "no answers yet")


def _memory_text(about: str, memory: Memory) -> str:
    lines = [f"{about}: {len(memory.window)} recent, {memory.folded} summarised"]
    if memory.summary:
        lines.append("  summary: " + memory.summary.replace("\n", " | ")[:ANSWER_CHARS])
    lines += [f"  {e.item_id}: {e.asked[:100]} -> {e.answered[:100]}" for e in memory.window]
    return "\n".join(lines)


async def _memory_cmd(ctx: Any, args: argparse.Namespace) -> None:
    persona = await ctx.resolve(args.persona)
    memories = await AgentClient(ctx.store).memory(persona)
    text = "\n".join(_memory_text(about, m) for about, m in memories.items())
    data = {about: m.model_dump(mode="json") for about, m in memories.items()}
    ctx.emit(data, text or "nothing remembered yet")


def add_agent_commands(sub: Any, command: Any) -> None:
    """Add the agent commands to the ``personas`` parser's subparsers."""
    resource = sub.add_parser("resource", help="an entity's typed resources (files, sql)")
    rsub = resource.add_subparsers(dest="resource_command", required=True, metavar="COMMAND")
    p = command(rsub, "add", _resource_add, "add a typed resource", temporal=False)
    p.add_argument("entity", metavar="ENTITY")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--type", required=True, choices=["files", "sql"])
    p.add_argument("--location", required=True, help="absolute directory or SQLite file")
    p.add_argument("--writable", action="store_true", help="may be granted at write")
    p.add_argument("--description", default="")
    p = command(rsub, "show", _resource_show, "an entity's resources", temporal=False)
    p.add_argument("entity", metavar="ENTITY")
    p = command(rsub, "remove", _resource_remove, "remove a resource", temporal=False)
    p.add_argument("entity", metavar="ENTITY")
    p.add_argument("name", metavar="NAME")
    p = command(sub, "grant", _grant_cmd, "grant a persona resources", temporal=False)
    p.add_argument("persona", metavar="PERSONA")
    p.add_argument(
        "--scope", dest="scopes", action="append", type=_grant, required=True,
        metavar="RESOURCE[:read|write]",
    )  # fmt: skip
    p = command(
        sub, "delegate", _delegate_cmd, "delegate part of a persona's scope", temporal=False
    )
    p.add_argument("giver", metavar="FROM")
    p.add_argument("taker", metavar="TO")
    p.add_argument(
        "--scope", dest="scopes", action="append", type=_grant, required=True,
        metavar="RESOURCE[:read|write]",
    )  # fmt: skip
    p = command(sub, "undelegate", _undelegate_cmd, "revoke a delegation", temporal=False)
    p.add_argument("giver", metavar="FROM")
    p.add_argument("taker", metavar="TO")
    p.add_argument("resource", metavar="RESOURCE")
    p = command(sub, "reach", _reach_cmd, "who reaches a resource, through which chain",
                temporal=False)  # fmt: skip
    p.add_argument("entity", metavar="ENTITY")
    p.add_argument("resource", metavar="RESOURCE")
    p = command(sub, "revoke", _revoke_cmd, "revoke a persona's grant", temporal=False)
    p.add_argument("persona", metavar="PERSONA")
    p.add_argument("resource", metavar="RESOURCE")
    p = command(sub, "tools", _tools_cmd, "the tools a persona may call now", temporal=False)
    p.add_argument("persona", metavar="PERSONA")
    p = command(sub, "tool-audit", _audit_cmd, "a persona's audited tool calls", temporal=False)
    p.add_argument("persona", metavar="PERSONA")
    p.add_argument("-n", type=int, default=50)
    p = command(
        sub, "replies", _replies_cmd, "a persona's answers with their tool traces", temporal=False
    )
    p.add_argument("persona", metavar="PERSONA")
    p.add_argument("-n", type=_count, default=20, help="how many answers (newest first)")
    p = command(
        sub, "memory", _memory_cmd, "what a persona remembers of rooms and people", temporal=False
    )
    p.add_argument("persona", metavar="PERSONA")
