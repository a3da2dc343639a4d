"""Custom search attributes that make personas findable in the Temporal web UI."""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

PERSONA_KIND = SearchAttributeKey.for_keyword("PersonaKind")
ENTITY_ID = SearchAttributeKey.for_keyword("EntityId")
PERSONA_ID = SearchAttributeKey.for_keyword("PersonaId")
PERSONA_NAME = SearchAttributeKey.for_keyword("PersonaName")
PERSONA_MOOD = SearchAttributeKey.for_keyword("PersonaMood")
PERSONA_STATUS = SearchAttributeKey.for_keyword("PersonaStatus")
INBOX_SIZE = SearchAttributeKey.for_int("InboxSize")

ALL_SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (
    PERSONA_KIND,
    ENTITY_ID,
    PERSONA_ID,
    PERSONA_NAME,
    PERSONA_MOOD,
    PERSONA_STATUS,
    INBOX_SIZE,
)
