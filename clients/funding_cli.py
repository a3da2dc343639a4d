"""``personas funding ...``: the funding commands of the CLI, built on :class:`FundingClient`.

Wire-up: ``add_funding_commands(sub)`` in ``clients.cli.build_parser``; each command's
handler is :func:`funding_command`, called like every other handler with ``(ctx, args)``.
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from activities.store.db import Scope
from clients.api import PersonaError
from clients.cli_args import CommandGroup, aware_datetime, seconds
from clients.funding_api import FundingClient, amount
from personas.funding.ads import Ad
from personas.funding.cycle import CycleConfig
from personas.funding.money import fmt

#: The environment variable holding an administrator's secret (kept off the command line).
ADMIN_KEY_ENV = "PERSONAS_ADMIN_KEY"


def _key(args: argparse.Namespace) -> str:
    return str(args.key or f"cli-{uuid.uuid4().hex}")


def _admin_key(p: argparse.ArgumentParser, note: str = "") -> None:
    p.add_argument(
        "--admin-key",
        default=os.environ.get(ADMIN_KEY_ENV),
        metavar="SECRET",
        help=f"an administrator's secret; default ${ADMIN_KEY_ENV} {note}".rstrip(),
    )


def add_funding_commands(subparsers: Any) -> None:
    """Add the ``funding`` command group to the ``personas`` parser's subparsers."""
    group = CommandGroup(subparsers, "funding", "funding cycles, ledger, rules, keys, audit")

    def cmd(name: str, help: str, temporal: bool = False) -> argparse.ArgumentParser:
        return group.command(name, funding_command, help, temporal=temporal)

    p = cmd("start", "start a persona's funding cycle", temporal=True)
    p.add_argument("persona")
    p.add_argument("--allocation", required=True, help="amount topped up to each period")
    p.add_argument("--period", type=seconds, default=timedelta(days=1), metavar="S")
    p = cmd("show", "a persona's funding state", temporal=True)
    p.add_argument("persona")
    p = cmd("run", "run a persona's funding cycle now", temporal=True)
    p.add_argument("persona")
    p = cmd("budget", "deposit into an entity's allocated budget")
    p.add_argument("entity")
    p.add_argument("amount")
    p.add_argument("--key")
    p = cmd("source", "add a pre-approved funding source to an entity")
    p.add_argument("entity")
    p.add_argument("source")
    p.add_argument("--position", type=int, default=1)
    p.add_argument("--deposit", metavar="AMOUNT")
    p.add_argument("--key")
    p = cmd("contribute", "contribute from a source to a persona of the same entity")
    p.add_argument("source")
    p.add_argument("persona")
    p.add_argument("amount")
    p.add_argument("--key")
    p.add_argument("--by", default="cli")
    p = cmd("top-up", "top a persona up from an account, within its funding limit")
    p.add_argument("persona")
    p.add_argument("amount")
    p.add_argument("--from", dest="from_account", required=True, metavar="ACCOUNT")
    p.add_argument("--key")
    p = cmd("balance", "a persona's spendable balance")
    p.add_argument("persona")
    p = cmd("rules", "show the funding rules, or set them from a JSON file (admin)")
    p.add_argument("--set", dest="rules_file", type=Path, metavar="FILE")
    _admin_key(p)
    p = cmd("admin-create", "create an administrator; its secret is shown once")
    p.add_argument("admin")
    _admin_key(p, "(not needed for the first administrator)")
    p = cmd("admin-revoke", "revoke an administrator at once")
    p.add_argument("admin")
    _admin_key(p)
    p = cmd("key-issue", "issue an API key for a persona (shown once)")
    p.add_argument("persona")
    p = cmd("key-revoke", "revoke an API key at once")
    p.add_argument("key_id")
    p = cmd("key-verify", "check an API key")
    p.add_argument("secret")
    p = cmd("key-rotate-schedule", "rotate a persona's key on a Temporal Schedule", temporal=True)
    p.add_argument("persona")
    p.add_argument("--every", type=seconds, required=True, metavar="S")
    p.add_argument("--overlap", type=seconds, required=True, metavar="S")
    for name, help in (("audit", "list audit entries"), ("usage", "list usage events")):
        p = cmd(name, help)
        p.add_argument("--persona")
        p.add_argument("--entity")
        p.add_argument("--since", type=aware_datetime)
        p.add_argument("--until", type=aware_datetime)
    cmd("audit-verify", "verify the audit chain")
    p = cmd("ad-add", "add an ad to the inventory")
    p.add_argument("ad_id")
    p.add_argument("revenue")
    p.add_argument("--keyword", action="append", default=[])
    p = cmd("ad-opt-out", "opt a user out of (or back into) personalised ads")
    p.add_argument("user")
    p.add_argument("--undo", action="store_true")


async def funding_command(ctx: Any, args: argparse.Namespace) -> None:
    """Run one ``personas funding`` command with the CLI's context (store, settings, emit)."""
    personas = await (ctx.personas() if args.temporal else ctx.offline_personas())
    api = FundingClient(personas.client, ctx.store, ctx.settings.task_queue)
    try:
        await _dispatch(ctx, api, args)
    finally:
        api.close()


async def _persona(ctx: Any, args: argparse.Namespace) -> str:
    return str(await ctx.resolve(args.persona))


async def _dispatch(ctx: Any, api: FundingClient, args: argparse.Namespace) -> None:
    c = args.funding_command
    if c == "start":
        pid = await _persona(ctx, args)
        wid = await api.start(
            pid, args.allocation, CycleConfig(period_s=args.period.total_seconds())
        )
        ctx.emit({"workflow_id": wid}, f"funding cycle {wid} running")
    elif c == "show":
        view = await api.view(await _persona(ctx, args))
        ctx.emit(
            view.model_dump(),
            f"{view.status}: balance {fmt(view.balance)}, allocation {fmt(view.allocation)}, "
            f"limit {fmt(view.funding_limit)}, cycle {view.cycle}, last rule "
            f"{view.last_rule or 'none'}",
        )
    elif c == "run":
        await api.run_now(await _persona(ctx, args))
        ctx.emit({"ok": True}, "cycle requested")
    elif c == "budget":
        posting = await api.fund_entity(_key(args), args.entity, args.amount, "cli")
        ctx.emit(posting.model_dump(), f"posted {posting.tx_id}")
    elif c == "source":
        account = await api.add_source(args.entity, args.source, args.position)
        if args.deposit:
            await api.fund_source(_key(args), args.source, args.deposit, "cli")
        ctx.emit({"account": account}, f"source {account} ready")
    elif c == "contribute":
        posting = await api.contribute(
            _key(args), args.source, await _persona(ctx, args), args.amount, args.by
        )
        ctx.emit(posting.model_dump(), f"contributed: {posting.tx_id}")
    elif c == "top-up":
        posting = await api.top_up(
            _key(args), await _persona(ctx, args), args.from_account, args.amount
        )
        ctx.emit(posting.model_dump(), f"topped up: {posting.tx_id}")
    elif c == "balance":
        balance = await api.balance(await _persona(ctx, args))
        ctx.emit({"balance": fmt(balance)}, fmt(balance))
    elif c == "rules":
        await _rules(ctx, api, args)
    elif c == "admin-create":
        secret = await api.create_admin(args.admin, args.admin_key)
        ctx.emit({"admin": args.admin, "secret": secret}, f"{secret}\n(shown once)")
    elif c == "admin-revoke":
        await api.revoke_admin(args.admin, args.admin_key)
        ctx.emit({"revoked": args.admin}, f"administrator {args.admin} revoked")
    elif c.startswith("key-") or c.startswith("ad-"):
        await _keys_and_ads(ctx, api, args)
    else:
        await _audit_and_usage(ctx, api, args)


async def _rules(ctx: Any, api: FundingClient, args: argparse.Namespace) -> None:
    if args.rules_file is not None:
        try:
            text = args.rules_file.read_text()
        except OSError as err:
            raise PersonaError(f"cannot read {args.rules_file}: {err.strerror}") from None
        rules = await api.set_rules(text, args.admin_key)
    else:
        rules = await api.rules()
    body = rules.model_dump(mode="json")
    ctx.emit(body, json.dumps(body, indent=2))


async def _keys_and_ads(ctx: Any, api: FundingClient, args: argparse.Namespace) -> None:
    c = args.funding_command
    if c == "key-issue":
        issued = await api.issue_key(await _persona(ctx, args), "cli")
        ctx.emit(issued.model_dump(), f"{issued.secret}\n(shown once; key id {issued.key_id})")
    elif c == "key-revoke":
        await api.revoke_key(args.key_id, "cli")
        ctx.emit({"revoked": args.key_id}, f"revoked {args.key_id}")
    elif c == "key-verify":
        pid = await api.verify_key(args.secret)
        ctx.emit({"persona_id": pid}, f"valid key of persona {pid}")
    elif c == "key-rotate-schedule":
        handle = await api.schedule_rotation(await _persona(ctx, args), args.every, args.overlap)
        ctx.emit({"schedule_id": handle.id}, f"schedule {handle.id} created")
    elif c == "ad-add":
        ad = Ad(
            ad_id=args.ad_id,
            keywords=tuple(args.keyword),
            revenue_per_impression=amount(args.revenue),
        )
        await api.add_ad(ad)
        ctx.emit(ad.model_dump(), f"ad {ad.ad_id} added")
    else:
        await api.set_ad_opt_out(args.user, not args.undo)
        ctx.emit({"user": args.user, "opted_out": not args.undo}, "preference saved")


async def _audit_and_usage(ctx: Any, api: FundingClient, args: argparse.Namespace) -> None:
    c = args.funding_command
    if c == "audit-verify":
        ok, reason = await api.verify_audit()
        if not ok:
            raise PersonaError(f"audit chain broken: {reason}")
        ctx.emit({"ok": ok, "reason": reason}, reason)
        return
    scope = Scope(
        persona_id=await _persona(ctx, args) if args.persona else None,
        entity_id=args.entity,
        since=args.since,
        until=args.until,
    )
    if c == "audit":
        entries = await api.audit(**scope)
        lines = [f"{e.seq} {e.at.isoformat()} {e.kind} {e.persona_id or '-'}" for e in entries]
        ctx.emit([e.model_dump(mode="json") for e in entries], "\n".join(lines) or "no entries")
    else:
        events = await api.usage(**scope)
        lines = [f"{u.occurred_at.isoformat()} {u.kind} {fmt(u.price)}" for u in events]
        ctx.emit([u.model_dump(mode="json") for u in events], "\n".join(lines) or "no usage")
