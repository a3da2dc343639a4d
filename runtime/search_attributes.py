"""Custom search attributes that make personas findable in the Temporal web UI."""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

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


def starting(
    kind: str,
    status: str,
    *,
    persona_id: str | None = None,
    name: str | None = None,
    entity_id: str | None = None,
) -> TypedSearchAttributes:
    """The search attributes a persona's workflow starts with, so the web UI finds it at once:
    its kind, the ids and name given, and its first status."""
    pairs: list[SearchAttributePair[Any]] = [SearchAttributePair(PERSONA_KIND, kind)]
    for key, value in ((PERSONA_ID, persona_id), (PERSONA_NAME, name), (ENTITY_ID, entity_id)):
        if value is not None:
            pairs.append(SearchAttributePair(key, value))
    pairs.append(SearchAttributePair(PERSONA_STATUS, status))
    return TypedSearchAttributes(pairs)
