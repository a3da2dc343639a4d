"""Funding administrators: who may change the funding rules.

An administrator is known by the SHA-256 hash of a random secret shown once. The first
administrator of a database may be created without credentials (bootstrap); every later
one, and every revocation, needs a live administrator's secret. Each event is audited.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from activities.funding import audit_log
from activities.funding.db import FundingError, OnDatabase
from activities.funding.tables import Admin
from activities.store.db import insert_ignore, revoke_once, utc

PREFIX = "adm"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class NotAuthorized(FundingError):
    """A missing, unknown, malformed or revoked administrator secret."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _authenticate(s: Session, secret: str | None) -> str:
    if not secret:
        raise NotAuthorized("an administrator's secret is required (--admin-key)")
    if not secret.startswith(f"{PREFIX}_"):
        raise NotAuthorized("malformed administrator secret")
    stmt = select(Admin.admin_id, Admin.revoked_at).where(Admin.key_hash == _hash(secret))
    row = s.execute(stmt).one_or_none()
    if row is None:
        raise NotAuthorized("unknown administrator secret")
    if row.revoked_at is not None:
        raise NotAuthorized(f"administrator {row.admin_id} was revoked")
    return str(row.admin_id)


class AdminStore(OnDatabase):
    """Create, authenticate and revoke administrators."""

    def authenticate(self, secret: str | None) -> str:
        """The administrator whose live secret this is; :class:`NotAuthorized` says why not."""
        with self.db.tx() as s:
            return _authenticate(s, secret)

    def create(self, admin_id: str, by_secret: str | None, now: datetime | None = None) -> str:
        """Create ``admin_id`` and return its secret (shown once).

        ``by_secret`` is a live administrator's secret; it may be None only while the
        database has no administrator at all.
        """
        if not _NAME.match(admin_id):
            raise FundingError(f"invalid administrator name {admin_id!r}: use [a-z0-9._-]")
        at = utc(now)
        secret = f"{PREFIX}_{secrets.token_urlsafe(32)}"
        with self.db.tx() as s:
            # Lock the system chain's head first, so two bootstraps cannot both see no admin.
            audit_log.lock_stream(s, audit_log.SYSTEM)
            if s.scalar(select(exists().where(Admin.admin_id.is_not(None)))):
                by = _authenticate(s, by_secret)
            elif by_secret is not None:
                raise NotAuthorized("unknown administrator secret (there are no administrators)")
            else:
                by = "bootstrap"
            values = {
                "admin_id": admin_id,
                "key_hash": _hash(secret),
                "created_at": at,
                "created_by": by,
                "revoked_at": None,
            }
            if not insert_ignore(s, Admin, values):
                raise FundingError(f"administrator {admin_id} already exists")
            audit_log.append(s, "admin.created", by, {"admin_id": admin_id}, now=at)
        return secret

    def revoke(self, admin_id: str, by_secret: str | None, now: datetime | None = None) -> None:
        """Revoke ``admin_id`` at once (an administrator may revoke itself)."""
        at = utc(now)
        with self.db.tx() as s:
            by = _authenticate(s, by_secret)
            if s.get(Admin, admin_id) is None:
                raise FundingError(f"unknown administrator {admin_id}")
            if revoke_once(s, Admin.admin_id, admin_id, at):
                audit_log.append(s, "admin.revoked", by, {"admin_id": admin_id}, now=at)
