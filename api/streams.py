"""Server-Sent Events of a live view: an event each time the view changes, comments between.

A stream polls the view (a workflow query) every ``STREAM_POLL_S`` and sends it only when its
JSON differs from the last one sent, so a client sees each change once (changes between two
polls arrive as one event). ``max_events`` bounds the stream; a view that can no longer be
read (the workflow is gone) ends the stream with an ``error`` event carrying the reason.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from clients.api import PersonaError

STREAM_POLL_S = 1.0
"""How often a stream reads its view again."""

MaxEvents = Query(default=None, ge=1, le=100_000)
"""The ``max_events`` query parameter of every stream (none: until the client goes)."""

STREAM_RESPONSES: dict[int | str, dict[str, object]] = {200: {"content": {"text/event-stream": {}}}}
"""The OpenAPI ``responses`` of a streaming route."""


async def view_events(
    read: Callable[[], Awaitable[BaseModel]],
    event: str,
    first: BaseModel,
    max_events: int | None,
) -> AsyncIterator[str]:
    """``event`` events of the changing view ``read`` returns, starting with ``first``."""
    sent, last, view = 0, "", first
    while max_events is None or sent < max_events:
        data = view.model_dump_json()
        if data != last:
            yield f"event: {event}\ndata: {data}\n\n"
            sent, last = sent + 1, data
        else:
            yield ": idle\n\n"
        await asyncio.sleep(STREAM_POLL_S)
        try:
            view = await read()
        except PersonaError as err:
            yield f"event: error\ndata: {json.dumps({'detail': str(err)})}\n\n"
            return


async def view_stream(
    read: Callable[[], Awaitable[BaseModel]], event: str, max_events: int | None
) -> StreamingResponse:
    """The stream of ``read``'s view; the first read happens now, so an unknown object is a
    problem response, not a stream."""
    first = await read()
    return StreamingResponse(
        view_events(read, event, first, max_events), media_type="text/event-stream"
    )
