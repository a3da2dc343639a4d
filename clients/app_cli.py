"""``personas app ...``: define, grant, request, run in, show and release app sessions.

Wiring (in clients/cli.py ``build_parser``): ``add_app_commands(sub)``. Each handler is
``run_app_command(ctx, args)``-compatible: it takes the CLI context (anything with
``personas()`` returning a connected PersonaClient and ``emit(data, text)``) and the parsed
arguments; ``temporal=True`` is set on the commands that talk to Temporal. Tokens come from
``--token`` or ``PERSONAS_APP_TOKEN``; management credentials (an administrator's secret or
an API key of a persona of the owning entity) from ``--key``, ``PERSONAS_APP_KEY`` or
``PERSONAS_ADMIN_KEY``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from activities.app.broker import BrokerNotConfigured
from clients.api import PersonaError
from clients.app_api import AppClient
from clients.cli_args import CommandGroup
from personas.app.views import SessionView, UsageSample


async def _client(ctx: Any) -> AppClient:
    personas = await ctx.personas()
    try:
        return AppClient(personas.client, personas.store, personas.task_queue)
    except BrokerNotConfigured as err:
        raise PersonaError(str(err)) from None


def _token(args: argparse.Namespace) -> str:
    token = args.token or os.environ.get("PERSONAS_APP_TOKEN", "")
    if not token:
        raise PersonaError("a token is required: --token or PERSONAS_APP_TOKEN")
    return str(token)


def _key(args: argparse.Namespace) -> str | None:
    key = getattr(args, "key", None)
    return key or os.environ.get("PERSONAS_APP_KEY") or os.environ.get("PERSONAS_ADMIN_KEY") or None


def session_text(v: SessionView) -> str:
    """A session as one readable line plus its steps."""
    extra = f" [{v.reason}]" if v.reason else ""
    lines = [
        f"session {v.session_id}: {v.persona_id} for {v.user_id} p{v.priority} {v.state}{extra}"
    ]
    lines.append(f"  steps: {', '.join(v.steps) or 'none'}")
    if v.compensated:
        lines.append(f"  compensated: {', '.join(v.compensated)}")
    if v.lease_expires_at:
        lines.append(f"  lease until {v.lease_expires_at}")
    if v.egress:
        lines.append("  egress: brokered by the host proxy (allowlist only)")
    if v.usage:
        lines.append(f"  usage ({v.samples_taken} samples, {v.samples_missed} missed): ")
        lines[-1] += sample_text(v.usage[-1])
    return "\n".join(lines)


def sample_text(u: UsageSample) -> str:
    """One periodic usage sample as a readable line."""
    share = f" ({u.cpu_percent:.1f}% cpu)" if u.cpu_percent is not None else ""
    text = (
        f"{u.at}: cpu {u.cpu_seconds:.2f} s{share}, memory {u.memory_mb:.1f}/"
        f"{u.memory_limit_mb:.0f} MB, {u.pids} processes"
    )
    if u.egress_allowed or u.egress_refused:
        text += f", egress {u.egress_allowed} allowed/{u.egress_refused} refused"
    return text


async def _define(ctx: Any, args: argparse.Namespace) -> None:
    try:
        fields = json.loads(await asyncio.to_thread(Path(args.file).read_text))
    except (OSError, json.JSONDecodeError) as err:
        raise PersonaError(f"cannot read persona file {args.file}: {err}") from None
    if not isinstance(fields, dict):
        raise PersonaError("the persona file must hold a JSON object")
    saved = await (await _client(ctx)).define(args.entity, args.by, _key(args), **fields)
    ctx.emit(saved, f"{saved.persona.persona_id} v{saved.version}")


async def _grant(ctx: Any, args: argparse.Namespace) -> None:
    await (await _client(ctx)).grant(args.persona, args.user, _key(args))
    ctx.emit({"granted": True}, f"{args.user} may use {args.persona}")


async def _revoke(ctx: Any, args: argparse.Namespace) -> None:
    ended = await (await _client(ctx)).revoke(args.persona, args.user, _key(args))
    text = f"{args.user} may no longer use {args.persona}"
    if ended:
        text += f"; ending sessions {', '.join(ended)}"
    ctx.emit({"revoked": True, "ending": ended}, text)


async def _token_cmd(ctx: Any, args: argparse.Namespace) -> None:
    token = (await _client(ctx)).broker.issue(args.user, args.ttl)
    ctx.emit({"token": token}, token)


async def _request(ctx: Any, args: argparse.Namespace) -> None:
    v = await (await _client(ctx)).request(
        args.persona,
        _token(args),
        environment=args.env,
        priority=args.priority,
        preempt=args.preempt,
        lease_s=args.lease,
        wait=not args.no_wait,
    )
    ctx.emit(v, session_text(v))


async def _show(ctx: Any, args: argparse.Namespace) -> None:
    key = _key(args)
    token = None if key else (args.token or os.environ.get("PERSONAS_APP_TOKEN") or None)
    v = await (await _client(ctx)).view(args.session, token=token, credential=key)
    ctx.emit(v, session_text(v))


async def _run(ctx: Any, args: argparse.Namespace) -> None:
    argv = list(args.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise PersonaError("give the command to run after the session id")
    out = await (await _client(ctx)).run(args.session, _token(args), argv)
    u = out.usage
    ctx.emit(
        out,
        f"{out.result.output.rstrip()}\n(exit {out.result.exit_code}; cpu {u.cpu_seconds:.2f} s, "
        f"memory {u.memory_mb:.1f}/{u.memory_limit_mb:.0f} MB)",
    )


async def _usage(ctx: Any, args: argparse.Namespace) -> None:
    if args.history:
        samples = await (await _client(ctx)).usage_history(args.session, _token(args))
        text = "\n".join(sample_text(s) for s in samples) or "no periodic samples yet"
        ctx.emit(samples, text)
        return
    u = await (await _client(ctx)).usage(args.session, _token(args))
    ctx.emit(
        u,
        f"cpu {u.cpu_seconds:.2f} s, memory {u.memory_mb:.1f}/{u.memory_limit_mb:.0f} MB, "
        f"{u.pids} processes",
    )


async def _release(ctx: Any, args: argparse.Namespace) -> None:
    v = await (await _client(ctx)).release(args.session, _token(args))
    ctx.emit(v, session_text(v))


async def _reconciler(ctx: Any, args: argparse.Namespace) -> None:
    sid = await (await _client(ctx)).ensure_reconciler(timedelta(minutes=args.every))
    ctx.emit({"schedule_id": sid}, f"schedule {sid} runs the reconciler every {args.every} min")


def add_app_commands(subparsers: Any) -> None:
    """Add ``app define|grant|revoke|token|request|show|run|usage|release|reconciler``."""
    group = CommandGroup(subparsers, "app", "app personas: sandboxed sessions on demand")

    def command(
        name: str, handler: Any, help: str, token: bool = False, key: bool = False
    ) -> argparse.ArgumentParser:
        p = group.command(name, handler, help)
        if token:
            p.add_argument("--token", help="the user's JWT (default: $PERSONAS_APP_TOKEN)")
        if key:
            p.add_argument(
                "--key",
                help="an administrator's secret or an API key of a persona of the owning"
                " entity (default: $PERSONAS_APP_KEY, then $PERSONAS_ADMIN_KEY)",
            )
        return p

    p = command("define", _define, "store an app persona (JSON file) as a new version", key=True)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--entity", required=True)
    p.add_argument("--by", default="cli")
    p = command("grant", _grant, "allow a user to request a persona", key=True)
    p.add_argument("persona", metavar="PERSONA_ID")
    p.add_argument("user", metavar="USER")
    p = command("revoke", _revoke, "withdraw a grant and end the user's sessions", key=True)
    p.add_argument("persona", metavar="PERSONA_ID")
    p.add_argument("user", metavar="USER")
    p = command("token", _token_cmd, "issue a token for a user (admin; uses the settings' key)")
    p.add_argument("user", metavar="USER")
    p.add_argument("--ttl", type=int, default=3600, metavar="S")
    p = command("request", _request, "request a session; prints it once running", token=True)
    p.add_argument("persona", metavar="PERSONA_ID")
    p.add_argument("--env", default="default")
    p.add_argument("--priority", type=int, default=5)
    p.add_argument("--preempt", action="store_true", help="preempt lower-priority sessions")
    p.add_argument("--lease", type=int, default=3600, metavar="S")
    p.add_argument("--no-wait", action="store_true")
    p = command(
        "show", _show, "a session's state (its user's token, or --key)", token=True, key=True
    )
    p.add_argument("session", metavar="SESSION")
    p = command("run", _run, "run a command inside a session (options before SESSION)", token=True)
    p.add_argument("session", metavar="SESSION")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="COMMAND")
    p = command("usage", _usage, "sample a session's CPU and memory", token=True)
    p.add_argument("session", metavar="SESSION")
    p.add_argument("--history", action="store_true", help="the periodic samples instead")
    p = command("release", _release, "release a session", token=True)
    p.add_argument("session", metavar="SESSION")
    p = command("reconciler", _reconciler, "create the reconciler's Temporal Schedule")
    p.add_argument("--every", type=int, default=5, metavar="MIN")


async def run_app_command(ctx: Any, args: argparse.Namespace) -> None:
    """Run a parsed ``app`` command with the CLI context (what ``handler`` points at)."""
    await args.handler(ctx, args)
