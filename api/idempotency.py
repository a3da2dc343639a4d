"""``Idempotency-Key`` on POSTs that change money or provision: the first response is kept
and replayed; the same key with another body is 409."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from activities.api_access.idempotency import MAX_KEY, StoredResponse
from api.auth import Principal
from api.services import Services

IdempotencyHeader = Header(
    default=None,
    alias="Idempotency-Key",
    min_length=1,
    max_length=MAX_KEY,
    pattern=r"^[\x21-\x7e]+$",
    description="a client-chosen key: a replay returns the first response",
)

#: What a handler returns: status, body, Location (empty for none).
Outcome = tuple[int, Any, str]


async def _digest(request: Request) -> str:
    body = await request.body()
    seen = f"{request.method} {request.url.path}?{request.url.query}\n".encode() + body
    return hashlib.sha256(seen).hexdigest()


def _response(stored: StoredResponse, replayed: bool) -> JSONResponse:
    headers = {"Location": stored.location} if stored.location else {}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(stored.body, stored.status, headers=headers)


async def idempotent(
    request: Request,
    who: Principal,
    svc: Services,
    key: str | None,
    run: Callable[[str], Awaitable[Outcome]],
) -> JSONResponse:
    """Run ``run(key)`` once per key (a fresh key when none is given) and answer with its
    outcome; a replay answers with the kept one."""
    if key is None:
        status, body, location = await run(uuid.uuid4().hex)
        return _response(
            StoredResponse(status=status, body=jsonable_encoder(body), location=location), False
        )
    digest = await _digest(request)
    store = svc.idempotency
    kept = await asyncio.to_thread(store.find, who.scope, key, digest)
    if kept is not None:
        return _response(kept, True)
    status, body, location = await run(f"api:{who.scope}:{key}"[:200])
    fresh = StoredResponse(status=status, body=jsonable_encoder(body), location=location)
    saved = await asyncio.to_thread(store.save, who.scope, key, digest, fresh)
    return _response(saved, saved is not fresh)
