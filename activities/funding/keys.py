"""Per-persona API keys: random secrets shown once, stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update

from activities.funding import audit_log
from activities.funding.db import FundingError, OnDatabase
from activities.funding.tables import ApiKey
from activities.store.db import insert_ignore, revoke_once, utc

PREFIX = "pk"


class KeyRefused(FundingError):
    """A key that is unknown, malformed, revoked or expired."""


class IssuedKey(BaseModel):
    """A new key: ``secret`` is shown once and never stored."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    persona_id: str
    secret: str


class KeyInfo(BaseModel):
    """A stored key without its secret."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    key_id: str
    persona_id: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore(OnDatabase):
    """Issue, rotate, verify and revoke persona API keys; every event is audited."""

    def issue(
        self,
        persona_id: str,
        actor: str = "system",
        now: datetime | None = None,
        key_id: str | None = None,
    ) -> IssuedKey:
        """A new key for the persona, from :mod:`secrets` (256 bits).

        With ``key_id`` given the issue is idempotent: a second call issues nothing and
        returns an empty ``secret`` (a secret is shown once).
        """
        key_id = key_id or secrets.token_hex(8)
        secret = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        at = utc(now)
        values = {
            "key_id": key_id,
            "persona_id": persona_id,
            "key_hash": _hash(secret),
            "created_at": at,
            "expires_at": None,
            "revoked_at": None,
        }
        with self.db.tx() as s:
            if not insert_ignore(s, ApiKey, values):
                return IssuedKey(key_id=key_id, persona_id=persona_id, secret="")
            audit_log.append(
                s, "key.issued", actor, {"key_id": key_id}, persona_id=persona_id, now=at
            )
        return IssuedKey(key_id=key_id, persona_id=persona_id, secret=secret)

    def rotate(
        self,
        persona_id: str,
        overlap: timedelta,
        actor: str = "system",
        now: datetime | None = None,
        rotation_id: str | None = None,
    ) -> IssuedKey:
        """Issue a new key; the persona's older live keys expire after ``overlap``.

        ``rotation_id`` makes a retried rotation issue nothing more.
        """
        at = utc(now)
        key_id = hashlib.sha256(rotation_id.encode()).hexdigest()[:16] if rotation_id else None
        new = self.issue(persona_id, actor, at, key_id)
        if not new.secret:
            return new
        with self.db.tx() as s:
            s.execute(
                update(ApiKey)
                .where(
                    ApiKey.persona_id == persona_id,
                    ApiKey.key_id != new.key_id,
                    ApiKey.revoked_at.is_(None),
                    ApiKey.expires_at.is_(None),
                )
                .values(expires_at=at + overlap)
            )
            audit_log.append(
                s,
                "key.rotated",
                actor,
                {"key_id": new.key_id, "overlap_s": overlap.total_seconds()},
                persona_id=persona_id,
                now=at,
            )
        return new

    def revoke(self, key_id: str, actor: str = "system", now: datetime | None = None) -> None:
        """Revoke a key at once; :class:`KeyRefused` when unknown."""
        at = utc(now)
        with self.db.tx() as s:
            row = s.get(ApiKey, key_id)
            if row is None:
                raise KeyRefused(f"unknown key {key_id}")
            if revoke_once(s, ApiKey.key_id, key_id, at):
                audit_log.append(
                    s, "key.revoked", actor, {"key_id": key_id}, persona_id=row.persona_id, now=at
                )

    def verify(self, secret: str, now: datetime | None = None) -> str:
        """The persona id of a live key; :class:`KeyRefused` says why not."""
        at = utc(now)
        if not secret.startswith(f"{PREFIX}_"):
            raise KeyRefused("malformed API key")
        with self.db.tx() as s:
            row = s.scalars(select(ApiKey).where(ApiKey.key_hash == _hash(secret))).one_or_none()
            if row is None:
                raise KeyRefused("unknown API key")
            if row.revoked_at is not None:
                raise KeyRefused(f"API key {row.key_id} was revoked")
            if row.expires_at is not None and row.expires_at <= at:
                raise KeyRefused(f"API key {row.key_id} expired")
            return row.persona_id

    def keys(self, persona_id: str) -> list[KeyInfo]:
        """The persona's keys, oldest first."""
        stmt = select(ApiKey).where(ApiKey.persona_id == persona_id).order_by(ApiKey.created_at)
        with self.db.tx() as s:
            return [KeyInfo.model_validate(r) for r in s.scalars(stmt)]
