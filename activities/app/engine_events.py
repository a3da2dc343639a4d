"""Follow the Docker engine's reports that containers died or were removed.

The engine's event stream is read over its Unix socket with asyncio (no thread is held
while waiting), filtered on ``die`` and ``destroy`` events of one deployment's session
containers (an ``oom`` event is a process killed inside a container that goes on, so it is
not an end). One follower per worker process serves every session; it reconnects when the
stream breaks. Engines reached over TCP are not followed (:class:`NoEvents`); sessions then
rely on their usage samples alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from urllib.parse import quote

DEFAULT_SOCKET = "/var/run/docker.sock"
EVENTS = ("die", "destroy")
MAX_LINE = 1 << 16
RECONNECT_S = 1.0

log = logging.getLogger(__name__)


class NoEvents(Exception):
    """The engine's events cannot be followed from here (not a local Unix socket)."""


def engine_socket() -> str:
    """The Docker engine's Unix socket path (``DOCKER_HOST`` or the default)."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host.removeprefix("unix://")
    raise NoEvents(f"engine events are only followed on a Unix socket, not {host[:60]}")


def describe(event: dict[str, object]) -> tuple[dict[str, str], str]:
    """The labels of an event's container and one line for it (``die`` with its exit code,
    ``destroy``)."""
    action = str(event.get("Action") or event.get("status") or "event")
    actor = event.get("Actor")
    raw = actor.get("Attributes", {}) if isinstance(actor, dict) else {}
    attrs = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    if action == "die":
        return attrs, f"the container died (exit code {attrs.get('exitCode')})"
    if action == "destroy":
        return attrs, "the container was removed"
    return attrs, f"container {action[:40]}"


Handler = Callable[[dict[str, str], str], Awaitable[None]]


async def _stream(
    labels: list[str], handle: Handler, socket_path: str, ready: asyncio.Event | None
) -> None:
    reader, writer = await asyncio.open_unix_connection(socket_path, limit=MAX_LINE)
    try:
        filters = json.dumps({"type": ["container"], "event": list(EVENTS), "label": labels})
        writer.write(
            f"GET /events?filters={quote(filters)} HTTP/1.1\r\nHost: docker\r\n\r\n".encode()
        )
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise NoEvents(f"the engine refused the event stream: {status[:80]!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # headers
        if ready is not None:
            ready.set()
        while line := await reader.readline():
            text = line.strip()  # chunk-size lines and separators are skipped
            if not text.startswith(b"{"):
                continue
            try:
                event = json.loads(text)
            except ValueError:
                continue
            if isinstance(event, dict):
                await handle(*describe(event))
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def follow(
    labels: list[str],
    handle: Handler,
    ready: asyncio.Event | None = None,
    socket_path: str | None = None,
) -> None:
    """Call ``handle(labels, why)`` for every end of a container carrying all ``labels``
    (``key=value`` filters), until cancelled; ``ready`` is set once subscribed."""
    path = socket_path or engine_socket()
    while True:
        try:
            await _stream(labels, handle, path, ready)
        except (OSError, NoEvents) as exc:
            log.warning("engine events: %s; reconnecting", str(exc)[:200])
        await asyncio.sleep(RECONNECT_S)
