"""``personas --api URL ...``: the persona commands through the REST API with a key
(``--api-key`` or ``PERSONAS_API_KEY``) instead of the store and Temporal.

Wiring: :func:`clients.cli.run_async` hands the parsed arguments here when ``--api`` is given;
the output is the same as without it.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from clients.api import PersonaError
from clients.http_api import HttpPersonaClient

Emit = Callable[[Any, str], None]
Handler = Callable[[HttpPersonaClient, argparse.Namespace, Emit], Awaitable[None]]


async def _create(api: HttpPersonaClient, args: argparse.Namespace, emit: Emit) -> None:
    from clients.cli import profile_from_args

    if args.agent_steps:
        raise PersonaError("--agent-steps is set through the store for now; drop --api")
    record = await api.create_persona(profile_from_args(args), created_by=args.by)
    emit(record, record.persona_id)


async def _list(api: HttpPersonaClient, args: argparse.Namespace, emit: Emit) -> None:
    from clients.cli import _list_text  # the CLI imports this module: no cycle at import

    records = await api.list_personas(args.entity)
    emit(records, _list_text(records))


async def _show(api: HttpPersonaClient, args: argparse.Namespace, emit: Emit) -> None:
    import json

    record = await api.persona(await api.resolve(args.persona))
    emit(record, json.dumps(record.model_dump(mode="json"), indent=2, default=str))


async def _start(api: HttpPersonaClient, args: argparse.Namespace, emit: Emit) -> None:
    pid = await api.resolve(args.persona)
    workflow_id = await api.start_life(pid)
    emit({"persona_id": pid, "workflow_id": workflow_id}, f"started {workflow_id}")


async def _post(api: HttpPersonaClient, args: argparse.Namespace, emit: Emit) -> None:
    from clients.cli import message_from_args

    if not (args.text or args.data or args.blob):
        raise PersonaError("nothing to post: give TEXT, --data or --blob")
    pid, message = await message_from_args(args, api.resolve)
    item = await api.post_to_persona(pid, **message)
    emit(item, f"delivered {item.item_id} to {pid}")


async def _state(api: HttpPersonaClient, args: argparse.Namespace, emit: Emit) -> None:
    from clients.cli import _view_text

    pid = await api.resolve(args.persona)
    view = await api.view(pid)
    emit(view, _view_text(view, (await api.persona(pid)).life_status))


async def _inbox(api: HttpPersonaClient, args: argparse.Namespace, emit: Emit) -> None:
    from clients.cli import _inbox_text

    items = await api.inbox(await api.resolve(args.persona), args.n)
    emit(items, _inbox_text(items))


async def _trigger(api: HttpPersonaClient, args: argparse.Namespace, emit: Emit) -> None:
    pid = await api.resolve(args.persona)
    status = await api.trigger(pid, args.event)
    emit({"persona_id": pid, "event": args.event, "status": status}, f"{pid} is {status}")


HANDLERS: dict[str, Handler] = {
    "create": _create,
    "list": _list,
    "show": _show,
    "start": _start,
    "post": _post,
    "state": _state,
    "inbox": _inbox,
    "trigger": _trigger,
}


async def run_via_api(
    args: argparse.Namespace, url: str, key: str, emit: Emit, transport: Any = None
) -> None:
    """Run the parsed command through the API at ``url``; refused for commands it lacks."""
    handler = HANDLERS.get(args.command)
    if handler is None:
        raise PersonaError(
            f"'{args.command}' does not work through --api yet; it does: "
            f"{', '.join(sorted(HANDLERS))}"
        )
    api = HttpPersonaClient(url, key, transport)
    try:
        await handler(api, args, emit)
    finally:
        await api.close()
