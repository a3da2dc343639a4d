"""``personas resource add|show|remove``, ``grant``, ``revoke``, ``tools``, ``tool-audit``.

Wiring (in clients/cli.py ``build_parser``): ``add_agent_commands(sub, command)``, where
``command`` is the CLI's own command factory. Store-only commands: no Temporal needed.
"""

from __future__ import annotations

import argparse
from typing import Any

from clients.agent_api import AgentClient
from personas.agent.resources import Grant, parse_grant


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
    p = command(sub, "revoke", _revoke_cmd, "revoke a persona's grant", temporal=False)
    p.add_argument("persona", metavar="PERSONA")
    p.add_argument("resource", metavar="RESOURCE")
    p = command(sub, "tools", _tools_cmd, "the tools a persona may call now", temporal=False)
    p.add_argument("persona", metavar="PERSONA")
    p = command(sub, "tool-audit", _audit_cmd, "a persona's audited tool calls", temporal=False)
    p.add_argument("persona", metavar="PERSONA")
    p.add_argument("-n", type=int, default=50)
