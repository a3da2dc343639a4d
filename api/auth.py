"""Bearer API keys: who is calling, and what they may touch.

An entity's key sees and changes only its entity's objects; an administrator's key may act
for any entity and alone manages entities, funding rules and cross-entity views.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from activities.api_access.keys import ApiKeyStore, KeyRefused
from api.problems import Problem

bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer pak_...`")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="personas"'}


class Principal(BaseModel):
    """The caller: one API key, of an entity or an administrator's."""

    key_id: str
    entity_id: str | None
    admin: bool

    @property
    def scope(self) -> str:
        """What idempotency keys are unique within."""
        return "admin" if self.admin else f"entity:{self.entity_id}"

    @property
    def actor(self) -> str:
        """How the store and the audit name the caller."""
        return f"api-key:{self.key_id}"


async def principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Principal:
    """The verified caller; 401 (with a challenge) when there is no live key."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "an API key is required: Authorization: Bearer <key>", CHALLENGE)
    keys: ApiKeyStore = request.app.state.services.keys
    try:
        info = await asyncio.to_thread(keys.verify, credentials.credentials)
    except KeyRefused as err:
        raise Problem(401, str(err), CHALLENGE) from None
    return Principal(key_id=info.key_id, entity_id=info.entity_id, admin=info.admin)


#: A route parameter that is the verified caller.
Caller = Annotated[Principal, Depends(principal)]


def allow(who: Principal, entity_id: str, what: str = "") -> None:
    """Refuse (403) unless ``who`` may act for ``entity_id``."""
    if who.admin or who.entity_id == entity_id:
        return
    target = f" {what}" if what else ""
    raise Problem(
        403,
        f"this API key is entity {who.entity_id}'s; it may not act on{target} of another entity",
    )


def admin_only(who: Principal, what: str) -> None:
    """Refuse (403) unless ``who`` is an administrator."""
    if not who.admin:
        raise Problem(403, f"{what} needs an administrator's API key")


def entity_filter(who: Principal, entity_id: str | None) -> str | None:
    """The entity a list is filtered by: an entity key's own (another is refused); an
    administrator's choice (None: every entity)."""
    if who.admin:
        return entity_id
    if entity_id is not None:
        allow(who, entity_id)
    return who.entity_id
