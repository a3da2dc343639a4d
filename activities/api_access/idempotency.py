"""Idempotency records of the REST API: the first response to a key is the answer to every
replay; the same key with another request is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine

from activities.api_access.tables import RestApiIdempotency
from activities.store.db import insert_ignore, read_tx, tx

MAX_KEY = 128


class IdempotencyConflict(Exception):
    """The key was used for a different request."""


class StoredResponse(BaseModel):
    """A response kept for replay."""

    status: int
    body: Any
    location: str = ""


class IdempotencyStore:
    """The ``api_idempotency`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def find(self, scope: str, key: str, digest: str) -> StoredResponse | None:
        """The stored response of ``key`` in ``scope`` if the request matches; conflict if
        the key was used for another request; None when it is new."""
        with read_tx(self.engine) as s:
            row = s.get(RestApiIdempotency, (scope, key))
            if row is None:
                return None
            if row.digest != digest:
                raise IdempotencyConflict(
                    f"Idempotency-Key {key[:64]!r} was used for a different request"
                )
            return StoredResponse(status=row.status, body=row.body, location=row.location)

    def save(self, scope: str, key: str, digest: str, response: StoredResponse) -> StoredResponse:
        """Keep the first response (a racing request's, when it won); returns the one kept."""
        values = {
            "scope": scope,
            "key": key,
            "digest": digest,
            "status": response.status,
            "body": response.body,
            "location": response.location,
            "created_at": datetime.now(UTC),
        }
        with tx(self.engine) as s:
            inserted = insert_ignore(s, RestApiIdempotency, values)
        if inserted:
            return response
        kept = self.find(scope, key, digest)
        return kept or response
