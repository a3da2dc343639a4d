"""Inbox items: one domain-agnostic envelope for chat messages, vision frames, game states.

An item's ``kind`` names an :class:`ItemKind` in a registry: which content parts the kind's
content may hold, how large it may be, and how it is rendered to a model. Unknown kinds are
refused; adding a kind is one :func:`register_kind` at import time (the registry is read
while workflows decode items, so a kind, once registered, is never taken away).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from personas.bounds import Identifier, Ref, Word
from personas.parts import (
    ContentPart,
    JsonPart,
    PartType,
    PromptPart,
    fenced_json,
    part_chars,
    text_part,
)

BP = 10_000
"""Priorities are integers in basis points (0..10,000) so that boundaries are exact."""

HIGH_PRIORITY_BP = 8_000
"""Strictly above this (priority > 0.8) an item is high priority: always engaged."""


def to_bp(priority: float) -> int:
    """A priority in [0, 1] as basis points, rounded to the nearest point."""
    return round(priority * BP)


class Dependency(BaseModel):
    """Work another persona must finish first: its ``task_key`` on persona ``persona_id``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    persona_id: Identifier
    task_key: Identifier


KIND_NAME = r"^[a-z][a-z0-9_-]{0,31}$"
"""What an item kind's name looks like."""

Renderer = Callable[["InboxItem", Sequence[ContentPart]], tuple[PromptPart, ...]]
"""How a kind's content is put in front of a model: the item and its parts to prompt parts."""


class UnknownItemKind(ValueError):
    """No item kind of this name is registered."""


class ContentRefused(ValueError):
    """A content does not fit its item kind (a part type it does not take, or too large)."""


def render_parts(parts: Sequence[ContentPart]) -> tuple[PromptPart, ...]:
    """Parts as a model reads them: text as text, JSON as fenced JSON text, blobs as blobs."""
    return tuple(text_part(fenced_json(p.data)) if isinstance(p, JsonPart) else p for p in parts)


def plain(item: InboxItem, parts: Sequence[ContentPart]) -> tuple[PromptPart, ...]:
    """The parts alone (:func:`render_parts`): a chat message reads as what was said."""
    return render_parts(parts)


def headed(title: str) -> Renderer:
    """A renderer that puts ``{title} from {sender}:`` on a line before the parts."""

    def render(item: InboxItem, parts: Sequence[ContentPart]) -> tuple[PromptPart, ...]:
        return (text_part(f"{title} from {item.sender_id}:"), *render_parts(parts))

    return render


@dataclass(frozen=True)
class ItemKind:
    """A kind of inbox item: the parts its content may hold, its bounds, its renderer."""

    name: str
    description: str
    part_types: frozenset[PartType]
    max_parts: int
    max_chars: int
    renderer: Renderer = plain

    def check(self, parts: Sequence[ContentPart]) -> None:
        """Raise :class:`ContentRefused` unless ``parts`` fit this kind."""
        refused = sorted({p.type for p in parts} - self.part_types)
        if refused:
            allowed = ", ".join(sorted(self.part_types))
            raise ContentRefused(
                f"a {self.name} item takes {allowed} parts, not {', '.join(refused)}"
            )
        if len(parts) > self.max_parts:
            raise ContentRefused(f"a {self.name} item has at most {self.max_parts} parts")
        if sum(part_chars(p) for p in parts) > self.max_chars:
            raise ContentRefused(f"a {self.name} item is at most {self.max_chars} characters")

    def render(self, item: InboxItem, parts: Sequence[ContentPart]) -> tuple[PromptPart, ...]:
        """The prompt parts a model is given for ``item`` with content ``parts``."""
        return self.renderer(item, parts)


_KINDS: dict[str, ItemKind] = {}


def register_kind(kind: ItemKind) -> ItemKind:
    """Add a kind to the registry and return it; a name is registered once."""
    if not re.fullmatch(KIND_NAME, kind.name):
        raise ValueError(f"item kind name {kind.name!r} does not match {KIND_NAME}")
    if kind.name in _KINDS:
        raise ValueError(f"item kind {kind.name!r} is registered already")
    _KINDS[kind.name] = kind
    return kind


def item_kind(name: str) -> ItemKind:
    """The registered kind of this name; :class:`UnknownItemKind` names the valid ones."""
    try:
        return _KINDS[name]
    except KeyError:
        known = ", ".join(item_kind_names())
        raise UnknownItemKind(f"unknown item kind {name!r}; known kinds: {known}") from None


def item_kind_names() -> tuple[str, ...]:
    """The registered kinds' names, sorted."""
    return tuple(sorted(_KINDS))


CHAT = register_kind(
    ItemKind(
        name="chat",
        description="a chat message: text, perhaps with structured data or attachments",
        part_types=frozenset({"text", "json", "blob"}),
        max_parts=16,
        max_chars=200_000,
    )
)
VISION_FRAME = register_kind(
    ItemKind(
        name="vision_frame",
        description="a frame from a camera or a screen: an image, perhaps with a caption",
        part_types=frozenset({"blob", "text"}),
        max_parts=4,
        max_chars=8_000,
        renderer=headed("Vision frame"),
    )
)
GAME_STATE = register_kind(
    ItemKind(
        name="game_state",
        description="the state of a game as JSON, perhaps with a note",
        part_types=frozenset({"json", "text"}),
        max_parts=4,
        max_chars=200_000,
        renderer=headed("Game state"),
    )
)


MAX_MENTIONS = 16
"""Personas an item may mention (names or ids, each at most ``ID_CHARS``)."""
MAX_TOPICS = 16
"""Topic keywords an item may carry (each a ``Word``, at most ``WORD_CHARS``)."""
MAX_WAITS_FOR = 8
"""Tasks of other personas an item may wait for."""
ITEM_MAX_BYTES = 8_192
"""The largest an item may be, encoded as JSON: every field at its bound fits, and an inbox
of items stays within its byte budget (see :class:`personas.inbox.Inbox`)."""


class InboxItem(BaseModel):
    """What arrives in a persona's inbox. Large payloads stay in the store (``content_ref``).

    Every string and tuple is bounded (limits above and in :mod:`personas.bounds`), so an
    item is at most :data:`ITEM_MAX_BYTES` encoded and is always encodable.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    item_id: Identifier
    kind: str = Field(default="chat", pattern=KIND_NAME)
    sender_id: Identifier
    sender_is_human: bool = False
    room_id: Identifier | None = None
    content_ref: Ref | None = None
    mentions: tuple[Identifier, ...] = Field(default=(), max_length=MAX_MENTIONS)
    topics: tuple[Word, ...] = Field(default=(), max_length=MAX_TOPICS)
    priority: float = Field(default=0.0, ge=0.0, le=1.0, allow_inf_nan=False)
    sent_at: AwareDatetime
    task_key: Identifier | None = None
    waits_for: tuple[Dependency, ...] = Field(default=(), max_length=MAX_WAITS_FOR)

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        item_kind(kind)
        return kind


class InboxEntry(BaseModel):
    """An item as the inbox holds it: its base priority and when it arrived (epoch ms)."""

    model_config = ConfigDict(frozen=True)

    item: InboxItem
    base_bp: int = Field(ge=0, le=BP)
    arrived_ms: int
    seq: int

    # Not a functools.cached_property: before Python 3.12 its one lock is shared by every
    # instance, and the worker's workflow threads queued on it for every item delivered.
    _size: int | None = PrivateAttr(default=None)

    @property
    def size(self) -> int:
        """The entry's item encoded, in bytes (computed once, never carried)."""
        if self._size is None:
            self._size = len(self.item.model_dump_json())
        return self._size
