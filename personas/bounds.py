"""Bounds shared by every model that crosses a client, signal, update, activity or workflow
boundary, declared once.

A workflow's messages, carried state and results must stay small whatever it is sent: one
oversized value in a workflow's state makes every later workflow task fail (a payload over
the server's 2 MB limit), and one unencodable value (a lone surrogate) makes every later
command that carries it fail to serialize. So every string, list and mapping on a boundary
has an explicit bound here or next to its model, every free text refuses control characters
and lone surrogates, and a refusal quotes at most :data:`QUOTE_CHARS` of what it refuses.
(Any pattern refuses a lone surrogate: pydantic cannot read such a string.)

=====================  =====  =====================================================
limit                  value  why
=====================  =====  =====================================================
``ID_CHARS``             128  persona, room, task, item ids (:data:`IDENTIFIER`)
``REF_CHARS``            128  a content or output reference in the store
``WORD_CHARS``            64  a topic keyword
``LABEL_CHARS``          256  a one-line name, rule or reason shown to a user
``QUOTE_CHARS``           40  how much of a refused value a refusal repeats
``MAX_IDS``            1,000  members of a room, an access scope, a list of ids
=====================  =====  =====================================================
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import Field

ID_CHARS: Final = 128
REF_CHARS: Final = 128
WORD_CHARS: Final = 64
LABEL_CHARS: Final = 256
QUOTE_CHARS: Final = 40
MAX_IDS: Final = 1_000

IDENTIFIER: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"
"""An id: letters, digits and ``_.:@-``, at most :data:`ID_CHARS` characters."""

PRINTABLE: Final = r"^[^\x00-\x1f\x7f]*$"
"""Free text on one line: no control characters, no lone surrogates."""

Identifier = Annotated[str, Field(min_length=1, max_length=ID_CHARS, pattern=IDENTIFIER)]
"""A bounded id (see :data:`IDENTIFIER`)."""

Ref = Annotated[str, Field(min_length=1, max_length=REF_CHARS, pattern=IDENTIFIER)]
"""A bounded reference to something in the store."""

Word = Annotated[
    str, Field(min_length=1, max_length=WORD_CHARS, pattern=r"^[A-Za-z0-9][A-Za-z0-9+#._-]*$")
]
"""A keyword (a topic): letters, digits and ``+#._-``, at most :data:`WORD_CHARS`."""

Keyword = Annotated[str, Field(min_length=1, max_length=WORD_CHARS, pattern=PRINTABLE)]
"""A free keyword (expertise, a metric name): printable, at most :data:`WORD_CHARS`."""

Label = Annotated[str, Field(max_length=LABEL_CHARS, pattern=PRINTABLE)]
"""One printable line of at most :data:`LABEL_CHARS` characters."""


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """At most ``limit`` characters of ``value``'s repr, for a refusal to show: a refusal
    never echoes a whole (perhaps huge, perhaps unencodable) value."""
    try:
        text = repr(value)
    except Exception:  # a deeply nested or hostile value must not break the refusal
        text = "<value>"
    text = text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
    return text if len(text) <= limit else text[: limit - 1] + "…"
