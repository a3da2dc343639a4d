"""``personas``: the command-line interface over :class:`clients.api.PersonaClient`.

Settings (Temporal address, namespace, task queue, database URL) come from
:func:`runtime.settings.get_settings`. Commands that only read or write the store
(``entity add``, ``create``, ``list``, ``show``) never contact Temporal; the others connect
first and fail with one clear line when the server cannot be reached.

Every refusal prints one line ``error: ...`` on stderr and exits with status 2; argparse's
usage errors keep argparse's own behaviour. ``run_async`` is the testable core: tests pass
their own settings and a factory returning their Temporal client.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.persona_start import AI_KIND
from activities.store import PersonaRecord, Store, StoreError, UnknownPersona
from clients.agent_cli import add_agent_commands
from clients.api import PersonaClient, PersonaError, explain
from clients.api_key_cli import add_api_key_commands
from clients.app_cli import add_app_commands
from clients.cli_args import add_command, non_negative_int, positive_float
from clients.fleet_cli import add_fleet_commands
from clients.funding_cli import add_funding_commands
from clients.instance_cli import add_instance_commands
from clients.life_cli import add_life_commands, search_attribute_hint
from personas.coordination import FloorPolicy
from personas.items import item_kind_names
from personas.life import InboxView, LifeConfig, LifeStats, PersonaView
from personas.models import IDENTIFIER
from personas.parts import BlobRef, JsonPart
from personas.rooms import RoomView
from runtime.converter import data_converter
from runtime.settings import Settings, get_settings
from runtime.temporal import connect

T = TypeVar("T")

ClientFactory = Callable[[Settings], Awaitable[Client]]
"""Returns a connected Temporal client for the settings (``runtime.temporal.connect``)."""

EXIT_ERROR = 2
CONNECT_TIMEOUT_S = 15.0
DEFAULT_TIMEOUT_S = 20.0
_IDENTIFIER = re.compile(IDENTIFIER)


class CliError(Exception):
    """A refusal of the command line; its message is one line."""


def _unreachable(settings: Settings) -> CliError:
    return CliError(
        f"cannot reach Temporal at {settings.temporal_address}: is the dev server running? "
        "('personas server' starts one, so does personas-demo)"
    )


def _is_connect_failure(err: BaseException) -> bool:
    if isinstance(err, RPCError):
        return err.status == RPCStatusCode.UNAVAILABLE
    return isinstance(err, RuntimeError) and str(err).startswith("Failed client connect")


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in message.splitlines() if part.strip()) or "failed"


def _default_user() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        return "cli"
    return user if _IDENTIFIER.fullmatch(user) else "cli"


# ---------------------------------------------------------------------------- the context
@dataclass
class _Context:
    """What a command runs with: settings, the migrated store and, on demand, Temporal."""

    settings: Settings
    store: Store
    client_factory: ClientFactory
    as_json: bool
    _personas: PersonaClient | None = field(default=None, repr=False)

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking store call off the event loop."""
        return await asyncio.to_thread(fn, *args)

    async def personas(self) -> PersonaClient:
        """A persona client connected to Temporal (connects on first use)."""
        if self._personas is None:
            try:
                client = await asyncio.wait_for(
                    self.client_factory(self.settings), timeout=CONNECT_TIMEOUT_S
                )
            except TimeoutError:
                raise _unreachable(self.settings) from None
            except ValueError as err:
                raise CliError(
                    f"invalid Temporal address {self.settings.temporal_address!r}: {err}"
                ) from None
            except Exception as err:
                if _is_connect_failure(err) or isinstance(err, OSError):
                    raise _unreachable(self.settings) from None
                raise
            self._personas = PersonaClient(client, self.store, self.settings.task_queue)
        return self._personas

    async def offline_personas(self) -> PersonaClient:
        """A persona client for store-only operations: its Temporal client never connects
        unless used."""
        if self._personas is not None:
            return self._personas
        try:
            client = await Client.connect(
                self.settings.temporal_address,
                namespace=self.settings.temporal_namespace,
                data_converter=data_converter,
                lazy=True,
                connect_timeout=timedelta(seconds=CONNECT_TIMEOUT_S),
            )
        except ValueError as err:
            raise CliError(
                f"invalid Temporal address {self.settings.temporal_address!r}: {err}"
            ) from None
        return PersonaClient(client, self.store, self.settings.task_queue)

    async def resolve(self, ref: str) -> str:
        """The id of the persona ``ref`` (an id or a name)."""
        return await self.db(resolve_persona, self.store, ref)

    def emit(self, data: Any, text: str) -> None:
        """Print ``data`` as JSON with ``--json``, else ``text``."""
        if self.as_json:
            print(json.dumps(_jsonable(data), indent=2, sort_keys=False, default=str))
        else:
            print(text)


def _jsonable(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, list):
        return [_jsonable(d) for d in data]
    if isinstance(data, dict):
        return {k: _jsonable(v) for k, v in data.items()}
    return data


def resolve_persona(store: Store, ref: str) -> str:
    """The id of the AI persona whose id or name is ``ref``.

    An id wins; otherwise the name must match exactly one persona (exactly, or else
    ignoring case). Unknown and ambiguous names are refused.
    """
    try:
        return store.get_persona(ref).persona_id
    except UnknownPersona:
        pass
    records = store.list_personas(AI_KIND)
    matches = [r for r in records if r.name == ref] or [
        r for r in records if r.name.lower() == ref.lower()
    ]
    if not matches:
        raise CliError(f"unknown persona {ref!r}: no persona has this id or name")
    if len(matches) > 1:
        which = ", ".join(f"{r.persona_id} (entity {r.entity_id})" for r in matches)
        raise CliError(f"persona name {ref!r} is ambiguous: {which}; use the id")
    return matches[0].persona_id


# ---------------------------------------------------------------------------- formatting
def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _lines(pairs: Sequence[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"{k + ':':<{width + 1}} {v}" for k, v in pairs)


def _stats_pairs(stats: LifeStats) -> list[tuple[str, Any]]:
    return [(k.replace("_", " "), v) for k, v in stats.model_dump().items() if v is not None]


def _view_text(view: PersonaView, life_status: str) -> str:
    status = "paused" if view.paused and life_status == "live" else life_status
    pairs: list[tuple[str, Any]] = [
        ("persona", f"{view.name} ({view.persona_id})"),
        ("status", status),
        ("mood", str(view.mood)),
        ("energy", f"{view.energy:.3f}"),
        ("attention", f"{view.attention:.3f}"),
        ("compute budget", f"{view.compute_budget:.3f}"),
        ("inbox", f"{view.inbox_size} waiting, {view.held} held"),
    ]
    return _lines(pairs + _stats_pairs(view.stats))


def _inbox_text(items: list[InboxView]) -> str:
    if not items:
        return "inbox is empty"
    rows = [
        [i.item_id, i.kind, i.sender_id, i.room_id or "-", f"{i.priority:.3f}", f"{i.waited_s:.1f}"]
        for i in items
    ]
    return _table(["item", "kind", "sender", "room", "priority", "waited_s"], rows)


def _list_text(records: list[PersonaRecord]) -> str:
    if not records:
        return "no personas"
    rows = [[r.persona_id, r.name, r.entity_id, str(r.version), r.life_status] for r in records]
    return _table(["id", "name", "entity", "version", "status"], rows)


# ---------------------------------------------------------------------------- commands
def _check_identifier(what: str, value: str) -> None:
    if not _IDENTIFIER.fullmatch(value):
        raise CliError(
            f"{what} {value!r} is not a valid identifier (letters, digits and _.:@-, "
            "starting with a letter or digit, at most 128 characters)"
        )


async def _entity_add(ctx: _Context, args: argparse.Namespace) -> None:
    _check_identifier("entity id", args.entity_id)
    for resource in args.resources:
        _check_identifier("resource", resource)
    await ctx.db(ctx.store.upsert_entity, args.entity_id, args.name, args.resources)
    permitted = sorted(await ctx.db(ctx.store.permitted_resources, args.entity_id))
    ctx.emit(
        {"entity_id": args.entity_id, "name": args.name, "resources": permitted},
        f"entity {args.entity_id} ({args.name}) may grant: {', '.join(permitted) or 'nothing'}",
    )


def profile_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ``create`` command's persona profile (its funding limit only when given)."""
    profile: dict[str, Any] = {
        "entity_id": args.entity,
        "name": args.name,
        "base_persona": args.model,
        "specialization": args.specialization,
        "expertise": list(args.expertise),
        "access_scope": list(args.scope),
        "activation_triggers": list(args.activate),
        "deactivation_triggers": list(args.deactivate),
    }
    if args.funding_limit is not None:
        profile["funding_limit"] = args.funding_limit
    return profile


async def _create(ctx: _Context, args: argparse.Namespace) -> None:
    personas = await ctx.offline_personas()
    life = LifeConfig(agent_max_steps=args.agent_steps) if args.agent_steps else None
    record = await personas.create_persona(profile_from_args(args), created_by=args.by, life=life)
    ctx.emit(record, record.persona_id)


async def _list(ctx: _Context, args: argparse.Namespace) -> None:
    records = await ctx.db(ctx.store.list_personas, AI_KIND, args.entity)
    ctx.emit(records, _list_text(records))


async def _show(ctx: _Context, args: argparse.Namespace) -> None:
    pid = await ctx.resolve(args.persona)
    record = await ctx.db(ctx.store.get_persona, pid)
    ctx.emit(record, json.dumps(record.model_dump(mode="json"), indent=2, default=str))


async def _start(ctx: _Context, args: argparse.Namespace) -> None:
    pid = await ctx.resolve(args.persona)
    workflow_id = await (await ctx.personas()).start_life(pid)
    ctx.emit({"persona_id": pid, "workflow_id": workflow_id}, f"started {workflow_id}")


def _wait_for(value: str) -> tuple[str, str]:
    persona, sep, task_key = value.partition(":")
    if not sep or not persona or not task_key:
        raise argparse.ArgumentTypeError(f"expected PERSONA:TASK_KEY, got {value!r}")
    return persona, task_key


def _json_part(value: str) -> JsonPart:
    """A ``--data`` value: JSON text, as a JSON content part."""
    try:
        return JsonPart(data=json.loads(value))
    except (ValueError, ValidationError) as err:
        raise argparse.ArgumentTypeError(f"not a JSON value ({err})") from None


def _blob_part(value: str) -> BlobRef:
    """A ``--blob`` value, ``MEDIA_TYPE=REF``, as a blob reference part."""
    media_type, sep, ref = value.partition("=")
    try:
        if not sep:
            raise ValueError("no '='")
        return BlobRef(media_type=media_type, ref=ref)
    except (ValueError, ValidationError) as err:
        raise argparse.ArgumentTypeError(f"expected MEDIA_TYPE=REF, got {value!r}") from err


async def message_from_args(
    args: argparse.Namespace, resolve: Callable[[str], Awaitable[str]]
) -> tuple[str, dict[str, Any]]:
    """The ``post`` command's persona id and the message's fields for ``post_to_persona``
    (the ``--wait-for`` personas resolved)."""
    pid = await resolve(args.persona)
    waits = [
        {"persona_id": await resolve(persona), "task_key": task_key}
        for persona, task_key in args.wait_for
    ]
    return pid, {
        "text": args.text,
        "sender_id": args.sender,
        "human": not args.bot,
        "priority": args.priority,
        "kind": args.kind,
        "task_key": args.task_key,
        "waits_for": waits,
        "parts": [*args.data, *args.blob],
    }


async def _post(ctx: _Context, args: argparse.Namespace) -> None:
    if not (args.text or args.data or args.blob):
        raise CliError("nothing to post: give TEXT, --data or --blob")
    pid, message = await message_from_args(args, ctx.resolve)
    item = await (await ctx.personas()).post_to_persona(pid, **message)
    ctx.emit(item, f"delivered {item.item_id} to {pid}")


async def _room_create(ctx: _Context, args: argparse.Namespace) -> None:
    members = [await ctx.resolve(m) for m in args.members]
    members = list(dict.fromkeys(members))
    settings: dict[str, Any] = {}
    if args.responders is not None:
        settings["responders"] = args.responders
    if args.deadline is not None:
        settings["decision_deadline_s"] = args.deadline
    try:
        policy = FloorPolicy(**settings)
    except ValidationError as err:
        raise CliError(f"invalid room policy: {explain(err)}") from None
    workflow_id = await (await ctx.personas()).create_room(args.room, members, policy)
    ctx.emit(
        {"room_id": args.room, "workflow_id": workflow_id, "members": members},
        f"room {args.room} ({workflow_id}) with {len(members)} member(s)",
    )


async def _room_post(ctx: _Context, args: argparse.Namespace) -> None:
    item = await (await ctx.personas()).post_to_room(
        args.room, args.text, args.sender, human=not args.bot, priority=args.priority
    )
    ctx.emit(item, f"posted {item.item_id} to room {args.room}")


async def _room_show(ctx: _Context, args: argparse.Namespace) -> None:
    view: RoomView = await (await ctx.personas()).room(args.room)
    names = {r.persona_id: r.name for r in await ctx.db(ctx.store.list_personas, AI_KIND)}
    members = ", ".join(f"{names.get(m, '?')} ({m})" for m in view.members) or "none"
    grants = (
        ", ".join(f"{names.get(p, p)} {n}" for p, n in sorted(view.grants_total.items())) or "none"
    )
    text = _lines(
        [
            ("room", view.room_id),
            ("members", members),
            ("open floors", view.open_floors),
            ("decided", view.decided),
            ("grants", grants),
            ("late bids", view.late_bids),
        ]
    )
    ctx.emit(view, text)


async def _state(ctx: _Context, args: argparse.Namespace) -> None:
    pid = await ctx.resolve(args.persona)
    view = await (await ctx.personas()).view(pid)
    record = await ctx.db(ctx.store.get_persona, pid)
    ctx.emit(view, _view_text(view, record.life_status))


async def _inbox(ctx: _Context, args: argparse.Namespace) -> None:
    pid = await ctx.resolve(args.persona)
    items = await (await ctx.personas()).inbox(pid, args.n)
    ctx.emit(items, _inbox_text(items))


async def _trigger(ctx: _Context, args: argparse.Namespace) -> None:
    pid = await ctx.resolve(args.persona)
    status = await (await ctx.personas()).trigger(pid, args.event)
    ctx.emit({"persona_id": pid, "event": args.event, "status": status}, f"{pid} is {status}")


async def _budget(ctx: _Context, args: argparse.Namespace) -> None:
    pid = await ctx.resolve(args.persona)
    fraction = await (await ctx.personas()).set_compute_budget(pid, args.fraction)
    ctx.emit(
        {"persona_id": pid, "compute_budget": fraction},
        f"compute budget of {pid} is {fraction:g}",
    )


# ---------------------------------------------------------------------------- the parser
def build_parser() -> argparse.ArgumentParser:
    """The ``personas`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="personas", description="Create, run and talk to AI personas on Temporal."
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument(
        "--timeout", type=positive_float, default=DEFAULT_TIMEOUT_S, metavar="S",
        help=f"seconds to wait for a worker's answer (default {DEFAULT_TIMEOUT_S:g})",
    )  # fmt: skip
    parser.add_argument(
        "--api", metavar="URL", default=os.environ.get("PERSONAS_API_URL") or None,
        help="work through the REST API at URL with a key (PERSONAS_API_URL); persona commands",
    )  # fmt: skip
    parser.add_argument(
        "--api-key", metavar="KEY", default=os.environ.get("PERSONAS_API_KEY", ""),
        help="the API key for --api (default: PERSONAS_API_KEY)",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    command = add_command
    entity = sub.add_parser("entity", help="entities that own personas")
    entity_sub = entity.add_subparsers(dest="entity_command", required=True, metavar="COMMAND")
    p = command(
        entity_sub, "add", _entity_add, "create or rename an entity, add resources", temporal=False
    )
    p.add_argument("entity_id", metavar="ENTITY_ID")
    p.add_argument("--name", required=True)
    p.add_argument(
        "--resource",
        dest="resources",
        action="append",
        default=[],
        metavar="R",
        help="a resource the entity may grant to its personas (repeatable)",
    )

    p = command(sub, "create", _create, "create an AI persona; prints its id", temporal=False)
    p.add_argument("--entity", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--model", required=True, help="base model name")
    p.add_argument("--specialization", required=True)
    p.add_argument("--expertise", action="extend", nargs="+", default=[], metavar="K")
    p.add_argument("--scope", action="extend", nargs="+", default=[], metavar="R")
    p.add_argument("--funding-limit", metavar="X")
    p.add_argument("--activate", action="extend", nargs="+", default=[], metavar="EVENT")
    p.add_argument("--deactivate", action="extend", nargs="+", default=[], metavar="EVENT")
    p.add_argument(
        "--agent-steps",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="answer each item with an agent turn of at most N model and tool steps, using the "
        "tools of its scope (0: one model call, no tools)",
    )
    p.add_argument("--by", default=_default_user(), metavar="USER")

    p = command(sub, "list", _list, "list AI personas", temporal=False)
    p.add_argument("--entity")

    p = command(sub, "show", _show, "show a persona's stored version as JSON", temporal=False)
    p.add_argument("persona", metavar="PERSONA")

    p = command(sub, "start", _start, "start a persona's life")
    p.add_argument("persona", metavar="PERSONA")

    add_life_commands(sub, command)

    p = command(sub, "post", _post, "post a message to a persona")
    p.add_argument("persona", metavar="PERSONA")
    p.add_argument(
        "text", metavar="TEXT", nargs="?", default="", help="may be empty with --data or --blob"
    )
    p.add_argument("--from", dest="sender", default=_default_user(), metavar="SENDER")
    p.add_argument("--bot", action="store_true", help="the sender is not a human")
    p.add_argument("--priority", type=float, default=0.0, metavar="P", help="0..1")
    p.add_argument(
        "--kind", default="chat", metavar="K", help=f"one of {', '.join(item_kind_names())}"
    )
    p.add_argument(
        "--data",
        action="append",
        type=_json_part,
        default=[],
        metavar="JSON",
        help="a JSON value after the text (repeatable), e.g. a game state",
    )
    p.add_argument(
        "--blob",
        action="append",
        type=_blob_part,
        default=[],
        metavar="MEDIA_TYPE=REF",
        help="a blob by reference after the text (repeatable), e.g. image/png=https://...",
    )
    p.add_argument("--task-key", metavar="K")
    p.add_argument(
        "--wait-for",
        action="append",
        type=_wait_for,
        default=[],
        metavar="PERSONA:TASK_KEY",
        help="process only after PERSONA finished TASK_KEY (repeatable)",
    )

    room = sub.add_parser("room", help="rooms where personas talk")
    room_sub = room.add_subparsers(dest="room_command", required=True, metavar="COMMAND")
    p = command(room_sub, "create", _room_create, "create a room of member personas")
    p.add_argument("room", metavar="ROOM")
    p.add_argument("--member", dest="members", action="append", required=True, metavar="PERSONA")
    p.add_argument("--responders", type=int, metavar="N", help="responders per message")
    p.add_argument("--deadline", type=float, metavar="S", help="seconds to collect bids")
    p = command(room_sub, "post", _room_post, "post a message to a room")
    p.add_argument("room", metavar="ROOM")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--from", dest="sender", default=_default_user(), metavar="SENDER")
    p.add_argument("--bot", action="store_true", help="the sender is not a human")
    p.add_argument("--priority", type=float, default=0.0, metavar="P", help="0..1")
    p = command(room_sub, "show", _room_show, "show a room's members and floors")
    p.add_argument("room", metavar="ROOM")

    p = command(sub, "state", _state, "a persona's state, mood and counters")
    p.add_argument("persona", metavar="PERSONA")

    p = command(sub, "inbox", _inbox, "the next items a persona will take")
    p.add_argument("persona", metavar="PERSONA")
    p.add_argument("-n", type=non_negative_int, default=10, metavar="N")

    p = command(sub, "trigger", _trigger, "fire an activation or deactivation event")
    p.add_argument("persona", metavar="PERSONA")
    p.add_argument("event", metavar="EVENT")

    p = command(sub, "budget", _budget, "set a persona's remaining compute budget")
    p.add_argument("persona", metavar="PERSONA")
    p.add_argument("fraction", type=float, metavar="FRACTION", help="0..1")
    add_instance_commands(sub)
    add_funding_commands(sub)
    add_fleet_commands(sub)
    add_app_commands(sub)
    add_agent_commands(sub, command)
    add_api_key_commands(sub, command)
    return parser


# ---------------------------------------------------------------------------- running
def _store_url(settings: Settings) -> str:
    url = settings.resolved_database_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return url


def _describe(err: BaseException, settings: Settings | None) -> str:
    if isinstance(err, CliError | PersonaError | StoreError):
        return str(err)
    if isinstance(err, ValidationError):
        return f"invalid input: {explain(err)}"
    if settings is not None and _is_connect_failure(err):
        return str(_unreachable(settings))
    if isinstance(err, RPCError):
        if settings is not None and "no mapping defined for search attribute" in err.message:
            return search_attribute_hint(settings.temporal_address)
        return f"temporal refused: {err.message}"
    if isinstance(err, SQLAlchemyError):
        where = ""
        if settings is not None:
            try:
                where = f" at {make_url(settings.resolved_database_url()).render_as_string()}"
            except Exception:
                where = ""
        return f"database error{where}: {err.__class__.__name__}: {err}"
    return f"{err.__class__.__name__}: {err}"


async def _with_deadline(work: Awaitable[None], timeout_s: float, settings: Settings) -> None:
    # The SDK turns the cancellation of an update call into an error of its own (which the
    # client API may wrap again), so a timeout is recognised by the deadline having expired,
    # not by the exception that comes out.
    deadline = asyncio.timeout(timeout_s)
    try:
        async with deadline:
            await work
    except Exception:
        if deadline.expired():
            raise CliError(
                f"no answer within {timeout_s:g}s: is a worker (personas-worker) "
                f"serving task queue {settings.task_queue!r} at {settings.temporal_address}?"
            ) from None
        raise


async def run_async(
    argv: Sequence[str] | None = None,
    *,
    settings: Settings | None = None,
    client_factory: ClientFactory = connect,
) -> int:
    """Run one command; returns the exit status (0, or 2 after printing ``error: ...``).

    ``settings`` defaults to :func:`get_settings`; ``client_factory`` returns the Temporal
    client (tests pass their environment's). Argparse usage errors raise ``SystemExit``.
    """
    args = build_parser().parse_args(argv)
    store: Store | None = None
    if args.api:
        from clients.api_cli import run_via_api  # it imports this module's formatters

        def emit(data: Any, text: str) -> None:
            if args.json:
                print(json.dumps(_jsonable(data), indent=2, default=str))
            else:
                print(text)

        try:
            await run_via_api(args, args.api, args.api_key, emit)
        except Exception as err:
            print(f"error: {_one_line(_describe(err, None))}", file=sys.stderr)
            return EXIT_ERROR
        return 0
    try:
        if settings is None:
            try:
                settings = get_settings()
            except ValidationError as err:
                raise CliError(f"invalid settings: {explain(err)}") from None
        url = _store_url(settings)
        store = Store(url)
        await asyncio.to_thread(store.migrate)
        ctx = _Context(settings, store, client_factory, as_json=bool(args.json))
        if args.temporal:
            await _with_deadline(args.handler(ctx, args), args.timeout, settings)
        else:
            await args.handler(ctx, args)
    except Exception as err:
        print(f"error: {_one_line(_describe(err, settings))}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if store is not None:
            store.dispose()
    return 0


def run(
    argv: Sequence[str] | None = None,
    *,
    settings: Settings | None = None,
    client_factory: ClientFactory = connect,
) -> int:
    """Run one command in a new event loop; returns the exit status."""
    try:
        return asyncio.run(run_async(argv, settings=settings, client_factory=client_factory))
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def main() -> None:
    """``personas``: the console entry point."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
