"""AI persona profile: who the persona is and what it may touch."""

from __future__ import annotations

import re
from decimal import Decimal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator

from personas.bounds import IDENTIFIER, LABEL_CHARS, MAX_IDS, PRINTABLE, Keyword

__all__ = ["IDENTIFIER", "AIPersonaProfile", "ScopeRefused", "check_access_scope", "keywords"]

MAX_TRIGGERS = 32
"""Activation (and, separately, deactivation) events a persona may have."""
MAX_EXPERTISE = 64
"""Expertise keywords of a persona."""
MAX_METRICS = 64
"""Performance metrics a profile may carry."""
_WORD = re.compile(r"[a-z0-9][a-z0-9+#.-]*")


def keywords(text: str) -> list[str]:
    """Lower-case words of ``text``, in order, without duplicates."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        seen.setdefault(word.strip(".-"), None)
    return [w for w in seen if w]


class AIPersonaProfile(BaseModel):
    """An agent acting for an entity: its model, specialization, scope and budget."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    persona_id: UUID = Field(default_factory=uuid4)
    entity_id: str = Field(pattern=IDENTIFIER)
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    base_persona: str = Field(
        min_length=1, max_length=128, pattern=PRINTABLE, description="base model name"
    )
    specialization: str = Field(min_length=1, max_length=LABEL_CHARS, pattern=PRINTABLE)
    expertise: tuple[Keyword, ...] = Field(
        default=(),
        max_length=MAX_EXPERTISE,
        description="keywords; defaults to the specialization's",
    )
    access_scope: tuple[str, ...] = Field(default=(), max_length=MAX_IDS)
    funding_limit: Decimal = Field(default=Decimal("0"), ge=0, max_digits=18, decimal_places=6)
    performance_metrics: dict[Keyword, float] = Field(default_factory=dict, max_length=MAX_METRICS)
    activation_triggers: tuple[str, ...] = Field(default=(), max_length=MAX_TRIGGERS)
    deactivation_triggers: tuple[str, ...] = Field(default=(), max_length=MAX_TRIGGERS)

    @field_validator("access_scope", "activation_triggers", "deactivation_triggers")
    @classmethod
    def _identifiers(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not re.fullmatch(IDENTIFIER, value):
                raise ValueError(f"{value!r} is not a valid identifier")
        return values

    @property
    def expertise_keywords(self) -> frozenset[str]:
        """Keywords that make an item relevant to this persona."""
        return frozenset(self.expertise) or frozenset(keywords(self.specialization))


class ScopeRefused(ValueError):
    """An access scope names resources the entity does not permit."""

    def __init__(self, entity_id: str, refused: list[str]) -> None:
        self.entity_id = entity_id
        self.refused = refused
        super().__init__(
            f"access scope refused: entity {entity_id} does not permit {', '.join(refused)}"
        )


def check_access_scope(profile: AIPersonaProfile, permitted: set[str]) -> None:
    """Raise :class:`ScopeRefused` naming every resource of the scope not in ``permitted``."""
    refused = sorted(set(profile.access_scope) - permitted)
    if refused:
        raise ScopeRefused(profile.entity_id, refused)
