"""Who may manage app personas: the owning entity, or an administrator.

Defining, granting, revoking and showing need credentials: an administrator's secret (from
the funding administrators' table, ``adm_...``) or a live API key of a persona of the
owning entity (``pk_...``). Refusals are :class:`NotAuthorised` with one line that never
echoes the secret.
"""

from __future__ import annotations

from sqlalchemy import Engine

from activities.funding.admins import PREFIX as ADMIN_PREFIX
from activities.funding.admins import AdminStore, NotAuthorized
from activities.funding.db import Database
from activities.funding.keys import PREFIX as KEY_PREFIX
from activities.funding.keys import KeyRefused, KeyStore
from activities.store import Store, UnknownPersona

MAX_CREDENTIAL = 256
"""Longest credential looked at (secrets are about 50 characters)."""


class NotAuthorised(Exception):
    """Missing, unknown, revoked or foreign credentials; one line, never the secret."""


class Authority:
    """Checks the credentials of a management action against the owning entity."""

    def __init__(self, store: Store, engine: Engine | None = None) -> None:
        """Administrators and persona keys on ``engine`` (the store's by default)."""
        db = Database(engine or store.engine)
        self.store = store
        self.admins = AdminStore(db)
        self.keys = KeyStore(db)

    def actor(self, entity_id: str, credential: str | None, action: str) -> str:
        """Who acts for ``entity_id`` (``admin <id>`` or ``persona <id>``); NotAuthorised
        names the action and why it is refused."""
        if not credential:
            raise NotAuthorised(
                f"{action} needs credentials: an administrator's secret or an API key of a"
                f" persona of entity {entity_id}"
            )
        if len(credential) > MAX_CREDENTIAL:
            raise NotAuthorised(f"{action} refused: malformed credentials")
        if credential.startswith(f"{ADMIN_PREFIX}_"):
            try:
                return f"admin {self.admins.authenticate(credential)}"
            except NotAuthorized as err:
                raise NotAuthorised(f"{action} refused: {err}") from None
        if credential.startswith(f"{KEY_PREFIX}_"):
            try:
                persona_id = self.keys.verify(credential)
                owner = self.store.get_persona(persona_id).entity_id
            except (KeyRefused, UnknownPersona) as err:
                raise NotAuthorised(f"{action} refused: {err}") from None
            if owner != entity_id:
                raise NotAuthorised(
                    f"{action} refused: the key of persona {persona_id} is not one of entity"
                    f" {entity_id}"
                )
            return f"persona {persona_id}"
        raise NotAuthorised(f"{action} refused: malformed credentials")
