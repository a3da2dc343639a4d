"""Bounds of every string, list and mapping an instance negotiation takes in, declared once.

The limits are the lengths a user of the field could need: a catalog name (instance type,
region, storage option, family, RAID level) fits in 64 characters, a reason in 500, a
requester's constraints in 32 entries. Refusals quote at most :data:`QUOTE` characters of a
value (:func:`quote`), so a refusal is never larger than the limit it enforces.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field

NAME_MAX = 64
"""The longest catalog or requirement name (``m6i.large@eu-west``, ``compliance.pci_dss...``)."""
REASON_MAX = 500
"""The longest free-text reason of an answer."""
TEXT_MAX = 2000
"""The longest workload description."""
CONSTRAINTS_MAX = 32
"""The most constraints in a negotiation's terms (start input, policy or answers)."""
DROP_MAX = 16
"""The most requirement names one modify may drop."""
OVERRIDES_MAX_CHARS = 8192
"""The largest persona override mapping, as JSON."""
QUOTE = 40
"""The most characters of a refused value a refusal quotes."""
INVALID_KEPT = 20
"""The most refused signals a negotiation keeps (the latest), each at most REFUSAL_MAX long."""
REFUSAL_MAX = 300
"""The longest kept refusal message."""

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@:/+-]*$"


def quote(value: object) -> str:
    """``value`` as a short quotation: its first :data:`QUOTE` characters, then ``...``."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return repr(text[:QUOTE]) + ("..." if len(text) > QUOTE else "")


def clip(message: str, limit: int = REFUSAL_MAX) -> str:
    """``message`` cut to ``limit`` characters (lone surrogates escaped)."""
    text = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it holds a lone surrogate)") from None
    return value


def _small_mapping(value: dict[str, Any]) -> dict[str, Any]:
    try:
        size = len(json.dumps(value))
    except (TypeError, ValueError, UnicodeEncodeError):
        raise ValueError("must be a JSON object of plain values") from None
    if size > OVERRIDES_MAX_CHARS:
        raise ValueError(f"is {size} characters as JSON; at most {OVERRIDES_MAX_CHARS}")
    return value


Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)]
"""A catalog or requirement name: letters, digits and ``_ . @ : / + -``, 1-64 characters."""
Reason = Annotated[str, Field(min_length=1, max_length=REASON_MAX), AfterValidator(_encodable)]
"""A free-text reason, 1-500 characters of valid Unicode."""
Text = Annotated[str, Field(max_length=TEXT_MAX), AfterValidator(_encodable)]
"""A workload description, at most 2000 characters of valid Unicode."""
RoundNumber = Annotated[int, Field(ge=1, le=1000, strict=True)]
"""A round number: a whole number from 1 (``true`` or ``1.5`` are not round numbers)."""
Overrides = Annotated[dict[str, Any], AfterValidator(_small_mapping)]
"""Persona overrides: a JSON object of at most 8 KiB."""
