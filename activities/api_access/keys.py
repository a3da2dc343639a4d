"""API keys: created, rotated with overlap, revoked, verified; stored as SHA-256 digests.

A secret is ``pak_<key id>_<random>``; it is shown once, at creation, and only its digest
is kept. A key is scoped to one entity, or is an administrator's (``entity_id`` None).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Engine, select

from activities.api_access.tables import RestApiKey
from activities.store.db import read_tx, tx

PREFIX = "pak"
MAX_SECRET = 256
ENTITY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


class KeyRefused(Exception):
    """A missing, malformed, unknown, expired or revoked key; one line, never the secret."""


class ApiKeyInfo(BaseModel):
    """What is shown of a key: never its secret."""

    key_id: str
    entity_id: str | None
    admin: bool
    label: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class IssuedApiKey(ApiKeyInfo):
    """A new key with its secret, shown this once."""

    secret: str


def digest_of(secret: str) -> str:
    """The SHA-256 hex digest of a secret: what the table keeps."""
    return hashlib.sha256(secret.encode("utf-8", "backslashreplace")).hexdigest()


def _info(row: RestApiKey) -> ApiKeyInfo:
    return ApiKeyInfo.model_validate(row, from_attributes=True)


class ApiKeyStore:
    """The ``api_keys`` table on a migrated store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        entity_id: str | None,
        *,
        admin: bool = False,
        label: str = "",
        now: datetime | None = None,
    ) -> IssuedApiKey:
        """A new key of ``entity_id`` (or an administrator's); its secret is returned once."""
        if admin == (entity_id is not None):
            raise KeyRefused("a key is either an entity's or an administrator's")
        if entity_id is not None and not ENTITY_PATTERN.match(entity_id):
            raise KeyRefused(f"entity id {entity_id[:40]!r} is not an identifier")
        key_id = uuid.uuid4().hex[:16]
        secret = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        row = RestApiKey(
            key_id=key_id,
            digest=digest_of(secret),
            entity_id=entity_id,
            admin=admin,
            label=label[:128],
            created_at=now or datetime.now(UTC),
            expires_at=None,
            revoked_at=None,
        )
        with tx(self.engine) as s:
            s.add(row)
            s.flush()
            info = _info(row)
        return IssuedApiKey(**info.model_dump(), secret=secret)

    def get(self, key_id: str) -> ApiKeyInfo:
        """One key's information; KeyRefused when there is none."""
        with read_tx(self.engine) as s:
            row = s.get(RestApiKey, key_id[:32])
            if row is None:
                raise KeyRefused(f"unknown API key {key_id[:32]}")
            return _info(row)

    def list(self, entity_id: str | None = None) -> list[ApiKeyInfo]:
        """Keys of ``entity_id`` (every key when None), oldest first."""
        with read_tx(self.engine) as s:
            query = select(RestApiKey).order_by(RestApiKey.created_at, RestApiKey.key_id)
            if entity_id is not None:
                query = query.where(RestApiKey.entity_id == entity_id)
            return [_info(r) for r in s.scalars(query)]

    def rotate(self, key_id: str, overlap: timedelta, now: datetime | None = None) -> IssuedApiKey:
        """A new key of the same scope; the old one stays valid ``overlap`` more, then expires."""
        if overlap < timedelta(0) or overlap > timedelta(days=30):
            raise KeyRefused("the overlap is 0 seconds to 30 days")
        now = now or datetime.now(UTC)
        old = self.get(key_id)
        if old.revoked_at is not None or (old.expires_at is not None and old.expires_at <= now):
            raise KeyRefused(f"API key {key_id} is no longer valid; create a new one")
        new = self.create(old.entity_id, admin=old.admin, label=old.label, now=now)
        with tx(self.engine) as s:
            row = s.get(RestApiKey, key_id)
            assert row is not None
            row.expires_at = now + overlap
        return new

    def revoke(self, key_id: str, now: datetime | None = None) -> ApiKeyInfo:
        """Revoke a key at once (revoking again keeps the first time)."""
        with tx(self.engine) as s:
            row = s.get(RestApiKey, key_id[:32])
            if row is None:
                raise KeyRefused(f"unknown API key {key_id[:32]}")
            if row.revoked_at is None:
                row.revoked_at = now or datetime.now(UTC)
            s.flush()
            return _info(row)

    def verify(self, secret: str, now: datetime | None = None) -> ApiKeyInfo:
        """The key whose secret this is, if live; KeyRefused says why not."""
        if not secret or len(secret) > MAX_SECRET or not secret.startswith(f"{PREFIX}_"):
            raise KeyRefused("malformed API key")
        now = now or datetime.now(UTC)
        with read_tx(self.engine) as s:
            row = s.scalars(
                select(RestApiKey).where(RestApiKey.digest == digest_of(secret))
            ).first()
            if row is None:
                raise KeyRefused("unknown API key")
            info = _info(row)
        if info.revoked_at is not None:
            raise KeyRefused(f"API key {info.key_id} was revoked")
        if info.expires_at is not None and info.expires_at <= now:
            raise KeyRefused(f"API key {info.key_id} expired at {info.expires_at.isoformat()}")
        return info
