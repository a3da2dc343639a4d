"""``personas answers|overflow|stop|server``: what a persona answered, what it shed, a stop
that says what becomes of queued work, and the dev server the rest needs.

Wiring (in clients/cli.py ``build_parser``): ``add_life_commands(sub, command)``, where
``command`` is the CLI's own command factory. Handlers take the CLI context (``resolve``,
``db``, ``store``, ``personas()``, ``emit``, ``settings``) and the parsed arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
from typing import Any

from activities.store import OutcomeRecord, ShedRecord, UnknownContent
from clients.api import PersonaError, named
from personas.life import LifeStats
from runtime.search_attributes import ALL_SEARCH_ATTRIBUTES
from runtime.servers import dev_server_command

#: At most this many rows are listed by one ``answers`` or ``overflow``.
MAX_ROWS = 1_000
#: At most this many characters of an answer are shown in a listing.
ANSWER_CHARS = 500

SEARCH_ATTRIBUTE_HINT = (
    "the Temporal server at {address} has no search attributes for personas ({names}): "
    "start it with 'personas server' (or personas-demo), or register them on yours with "
    "'temporal operator search-attribute create --name NAME --type TYPE'"
)


def search_attribute_hint(address: str) -> str:
    """What to do when the server lacks the project's search attributes."""
    names = ", ".join(k.name for k in ALL_SEARCH_ATTRIBUTES)
    return SEARCH_ATTRIBUTE_HINT.format(address=address, names=names)


def _rows(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if not 1 <= n <= MAX_ROWS:
        raise argparse.ArgumentTypeError(f"expected 1..{MAX_ROWS}, got {n}")
    return n


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *rows]
    )


def _one_line(text: str | None, limit: int = ANSWER_CHARS) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# ---------------------------------------------------------------------------- answers
async def _answers(ctx: Any, args: argparse.Namespace) -> None:
    pid = await ctx.resolve(args.persona)
    record = await ctx.db(ctx.store.get_persona, pid)
    outcomes: list[OutcomeRecord] = await ctx.db(ctx.store.recent_outcomes, pid, args.n)
    answers = []
    for o in outcomes:
        text = None
        if o.output_ref:
            try:
                text = (await ctx.db(ctx.store.get_content, o.output_ref)).text
            except UnknownContent:
                text = None
        answers.append({**o.model_dump(mode="json"), "text": text})
    if not answers:
        shown = f"{named(record)} has not answered anything yet"
    else:
        rows = [
            [a["item_id"], a["outcome"], a["recorded_at"][:19], _one_line(a["text"])]
            for a in answers
        ]
        shown = f"answers of {named(record)}, newest first:\n" + _table(
            ["item", "outcome", "recorded_at", "answer"], rows
        )
    ctx.emit(answers, shown)


# ---------------------------------------------------------------------------- overflow
async def _overflow(ctx: Any, args: argparse.Namespace) -> None:
    pid = await ctx.resolve(args.persona)
    record = await ctx.db(ctx.store.get_persona, pid)
    shed: list[ShedRecord] = await ctx.db(ctx.store.recent_shed, pid, args.n, args.reason)
    total = await ctx.db(ctx.store.count_shed, pid)
    if not shed:
        which = f" with reason {args.reason!r}" if args.reason else ""
        shown = f"{named(record)} has shed nothing{which} ({total} shed in all)"
    else:
        rows = [
            [
                s.item_id,
                s.reason,
                f"{s.priority_bp / 10_000:.3f}",
                s.shed_at.isoformat()[:19],
                str(s.item.get("sender_id", "?")),
                str(s.item.get("room_id") or "-"),
            ]
            for s in shed
        ]
        shown = f"overflow record of {named(record)} ({total} shed in all), newest first:\n"
        shown += _table(["item", "reason", "priority", "shed_at", "sender", "room"], rows)
    ctx.emit(shed, shown)


# ---------------------------------------------------------------------------- stop
def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _ask_to_drain(name: str, waiting: int, held: int) -> bool:
    print(
        f"{name} has {waiting} waiting and {held} held item(s); a stop writes them to the "
        "overflow record with reason 'stopped'. Drain first (let it finish them)? [y/N] ",
        end="",
        flush=True,
    )
    return sys.stdin.readline().strip().lower() in ("y", "yes")


async def _stop(ctx: Any, args: argparse.Namespace) -> None:
    pid = await ctx.resolve(args.persona)
    record = await ctx.db(ctx.store.get_persona, pid)
    personas = await ctx.personas()
    waiting, held = 0, 0
    with contextlib.suppress(PersonaError):  # not running: stop_life says so
        waiting, held = await personas.queued_work(pid)
    drain = args.drain
    if waiting + held and not drain and not args.shed and _interactive():
        drain = _ask_to_drain(named(record), waiting, held)
    if drain and waiting + held:
        print(f"draining {named(record)}: {waiting} waiting, {held} held", file=sys.stderr)
        await personas.drain(pid, timeout_s=args.timeout * 0.8)
        waiting, held = 0, 0
    stats = LifeStats.model_validate(await personas.stop_life(pid))
    pairs = [("stopped", named(record)), *_stats(stats)]
    text = "\n".join(f"{k}: {v}" for k, v in pairs)
    if waiting + held:
        text += (
            f"\n{waiting} waiting and {held} held item(s) went to the overflow record with "
            f"reason 'stopped' (see 'personas overflow {record.name} --reason stopped'); "
            f"'personas stop {record.name} --drain' lets it finish queued work first"
        )
    ctx.emit(
        {"persona_id": pid, "name": record.name, "stats": stats, "shed_on_stop": waiting + held},
        text,
    )


def _stats(stats: LifeStats) -> list[tuple[str, Any]]:
    return [(k.replace("_", " "), v) for k, v in stats.model_dump().items() if v is not None]


# ---------------------------------------------------------------------------- server
def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


async def _server(ctx: Any, args: argparse.Namespace) -> None:
    settings = ctx.settings
    address = settings.temporal_address
    if _listening(address):
        raise PersonaError(f"a server already answers at {address}")
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    port = int(address.rsplit(":", 1)[1])
    command = dev_server_command(settings.state_dir / "temporal.db", port, settings.ui_port)
    names = ", ".join(k.name for k in ALL_SEARCH_ATTRIBUTES)
    print(
        f"Temporal dev server at {address} with the search attributes {names}; web UI at "
        f"http://127.0.0.1:{settings.ui_port}; state in {settings.state_dir}. Ctrl-C stops it.",
        flush=True,
    )
    sys.stderr.flush()
    os.execv(command[0], command)  # the server takes this process's place and signals


# ---------------------------------------------------------------------------- wiring
def add_life_commands(sub: Any, command: Any) -> None:
    """Add ``answers``, ``overflow``, ``stop`` and ``server`` with the CLI's ``command``."""
    p = command(sub, "answers", _answers, "what a persona answered, per item", temporal=False)
    p.add_argument("persona", metavar="PERSONA")
    p.add_argument("-n", type=_rows, default=20, metavar="N", help=f"at most N (<= {MAX_ROWS})")

    p = command(sub, "overflow", _overflow, "the items a persona shed, and why", temporal=False)
    p.add_argument("persona", metavar="PERSONA")
    p.add_argument("--reason", metavar="R", help="only reasons starting with R")
    p.add_argument("-n", type=_rows, default=50, metavar="N", help=f"at most N (<= {MAX_ROWS})")

    p = command(
        sub,
        "stop",
        _stop,
        "stop a persona's life; says what becomes of queued work (or drains it first)",
    )
    p.add_argument("persona", metavar="PERSONA")
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--drain", action="store_true", help="let it finish its queued work first (--timeout)"
    )
    how.add_argument(
        "--shed", action="store_true", help="stop now, queued work to the overflow record"
    )

    command(
        sub,
        "server",
        _server,
        "run the Temporal dev server with the project's search attributes",
        temporal=False,
    )
