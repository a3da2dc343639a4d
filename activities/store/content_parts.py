"""How a content's parts are kept in the ``contents`` table.

A content is a sequence of parts (:mod:`personas.parts`). The commonest shapes keep the
columns they always had, so rows written before parts existed read unchanged and plain text
is stored once: a single text part is the ``text`` column, a single JSON object part the
``data`` column. Any other sequence is the ``parts`` column (JSON), with ``text`` and
``data`` empty. Reading inverts this: ``parts`` when set, else ``text`` and then ``data``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from personas.parts import ContentPart, JsonPart, TextPart, content_parts, text_part


def encode_parts(
    parts: Sequence[ContentPart],
) -> tuple[str | None, dict[str, Any] | None, list[Any] | None]:
    """The ``(text, data, parts)`` columns that hold ``parts`` (validated: bounded, at most 64)."""
    checked = content_parts.validate_python(tuple(parts))
    if len(checked) == 1:
        (only,) = checked
        if isinstance(only, TextPart):
            return only.text, None, None
        if isinstance(only, JsonPart) and isinstance(only.data, dict):
            return None, only.data, None
    return None, None, list(content_parts.dump_python(checked, mode="json"))


def decode_parts(
    text: str | None, data: dict[str, Any] | None, stored: list[Any] | None
) -> tuple[ContentPart, ...]:
    """The parts a row holds, from its ``parts`` column or else its ``text`` and ``data``."""
    if stored is not None:
        return content_parts.validate_python(stored)
    legacy: list[ContentPart] = []
    if text is not None:
        legacy.append(text_part(text))
    if data is not None:
        legacy.append(JsonPart.model_construct(data=data))
    return tuple(legacy)
