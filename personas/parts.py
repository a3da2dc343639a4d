"""Content parts: what an item's stored content is made of, and what a model is given.

A content is a sequence of parts: text, a JSON value, or a reference to a blob (an image, an
audio clip ...) kept elsewhere, named by its media type. Each part is bounded in size, so a
content that validates can be stored and rendered without surprises.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, model_validator

MAX_TEXT_CHARS = 1_000_000
"""Characters of one text part."""

MAX_JSON_CHARS = 1_000_000
"""Characters of one JSON part, as compact JSON."""

MAX_PARTS = 64
"""Parts of one content."""

MEDIA_TYPE = r"^[a-z]+/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
"""A media type without parameters, such as ``image/png`` (RFC 6838's characters)."""

DIGEST = r"^sha256:[0-9a-f]{64}$"
"""A content digest: ``sha256:`` and 64 lowercase hexadecimal digits."""

PartType = Literal["text", "json", "blob"]
"""The name of a part's type (its ``type`` field)."""


class TextPart(BaseModel):
    """Plain text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["text"] = "text"
    text: str = Field(max_length=MAX_TEXT_CHARS)


class JsonPart(BaseModel):
    """A JSON value (a game state, a tool result ...); at most ``MAX_JSON_CHARS`` as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["json"] = "json"
    data: JsonValue

    @model_validator(mode="after")
    def _bounded(self) -> JsonPart:
        if len(compact_json(self.data)) > MAX_JSON_CHARS:
            raise ValueError(f"a JSON part is at most {MAX_JSON_CHARS} characters as JSON")
        return self


class BlobRef(BaseModel):
    """A blob kept outside the store: where it is (a URL or a key), its media type, its digest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["blob"] = "blob"
    media_type: str = Field(pattern=MEDIA_TYPE)
    ref: str = Field(min_length=1, max_length=2048)
    digest: str | None = Field(default=None, pattern=DIGEST)
    size_bytes: int | None = Field(default=None, ge=0)


ContentPart = Annotated[TextPart | JsonPart | BlobRef, Field(discriminator="type")]
"""One part of a stored content."""

PromptPart = Annotated[TextPart | BlobRef, Field(discriminator="type")]
"""One part of what a model is given: text, or a blob for providers that accept it."""

content_parts: TypeAdapter[tuple[ContentPart, ...]] = TypeAdapter(
    Annotated[tuple[ContentPart, ...], Field(max_length=MAX_PARTS)]
)
"""Validates (and dumps) a content's parts."""


def compact_json(data: JsonValue) -> str:
    """``data`` as compact JSON with sorted keys: the same text for the same value."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def part_chars(part: ContentPart) -> int:
    """The characters a part puts in front of a model (a blob's reference counts as its size)."""
    if isinstance(part, TextPart):
        return len(part.text)
    if isinstance(part, JsonPart):
        return len(compact_json(part.data))
    return len(part.ref)


def fenced_json(data: JsonValue) -> str:
    """``data`` as a fenced JSON block, indented, keys sorted (deterministic)."""
    body = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False)
    return f"```json\n{body}\n```"


def blob_placeholder(blob: BlobRef) -> str:
    """The line a text-only model reads in place of a blob."""
    digest = f" {blob.digest}" if blob.digest else ""
    return f"[{blob.media_type} attachment: {blob.ref}{digest}]"


def prompt_text(prompt: str | Sequence[PromptPart]) -> str:
    """A prompt as plain text: its text parts, and a placeholder line for each blob."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(p.text if isinstance(p, TextPart) else blob_placeholder(p) for p in prompt)


def text_part(text: str) -> TextPart:
    """A text part from text that is already bounded (stored, or rendered from a part)."""
    return TextPart.model_construct(text=text)
