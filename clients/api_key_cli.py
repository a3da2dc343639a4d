"""``personas api-key create|list|rotate|revoke``: the REST API's bearer keys.

Wiring (in clients/cli.py ``build_parser``): ``add_api_key_commands(sub, command)``. Store-only
commands, the bootstrap of the API: the first administrator's key comes from here. A secret is
printed once, at creation or rotation; only its SHA-256 digest is stored.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta
from typing import Any

from activities.api_access.keys import ApiKeyInfo, ApiKeyStore, KeyRefused
from clients.api import PersonaError


def _keys(ctx: Any) -> ApiKeyStore:
    return ApiKeyStore(ctx.store.engine)


def _text(info: ApiKeyInfo) -> str:
    scope = "admin" if info.admin else f"entity {info.entity_id}"
    state = (
        "revoked"
        if info.revoked_at
        else (f"expires {info.expires_at.isoformat()}" if info.expires_at else "live")
    )
    return f"{info.key_id}  {scope}  {state}  {info.label}".rstrip()


async def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except KeyRefused as err:
        raise PersonaError(str(err)) from None


async def _create(ctx: Any, args: argparse.Namespace) -> None:
    issued = await _run(_keys(ctx).create, args.entity, admin=args.admin, label=args.label)
    ctx.emit(
        issued.model_dump(mode="json"),
        f"{issued.secret}\n(key {issued.key_id}; the secret is shown this once)",
    )


async def _list(ctx: Any, args: argparse.Namespace) -> None:
    rows = await _run(_keys(ctx).list, args.entity)
    ctx.emit([r.model_dump(mode="json") for r in rows], "\n".join(map(_text, rows)) or "no keys")


async def _rotate(ctx: Any, args: argparse.Namespace) -> None:
    issued = await _run(_keys(ctx).rotate, args.key_id, timedelta(seconds=args.overlap))
    ctx.emit(
        issued.model_dump(mode="json"),
        f"{issued.secret}\n(key {issued.key_id}; {args.key_id} stays valid {args.overlap:g}s)",
    )


async def _revoke(ctx: Any, args: argparse.Namespace) -> None:
    info = await _run(_keys(ctx).revoke, args.key_id)
    ctx.emit(info.model_dump(mode="json"), f"revoked {info.key_id}")


def add_api_key_commands(sub: Any, command: Any) -> None:
    """Add ``api-key ...`` to the ``personas`` parser."""
    group = sub.add_parser("api-key", help="bearer keys of the REST API")
    keys = group.add_subparsers(dest="api_key_command", required=True, metavar="COMMAND")
    p = command(keys, "create", _create, "create a key; prints its secret once", temporal=False)
    scope = p.add_mutually_exclusive_group(required=True)
    scope.add_argument("--entity", help="the entity whose objects the key may touch")
    scope.add_argument("--admin", action="store_true", help="an administrator's key")
    p.add_argument("--label", default="", help="a note shown in listings")
    p = command(keys, "list", _list, "list keys (never their secrets)", temporal=False)
    p.add_argument("--entity")
    p = command(keys, "rotate", _rotate, "a new key; the old one expires later", temporal=False)
    p.add_argument("key_id", metavar="KEY_ID")
    p.add_argument(
        "--overlap", type=float, default=3600.0, metavar="S",
        help="seconds the old key stays valid (default 3600)",
    )  # fmt: skip
    p = command(keys, "revoke", _revoke, "revoke a key at once", temporal=False)
    p.add_argument("key_id", metavar="KEY_ID")
