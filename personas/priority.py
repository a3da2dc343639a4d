"""Priority: what makes an item matter to a persona, and aging so nothing waits forever.

All arithmetic is on integers (basis points, milliseconds), so a boundary is a boundary:
a mention lands at ``mention_floor_bp`` exactly, never a hair under a threshold.

Aging adds ``aging_bp_per_minute`` for every minute an item waits. Because every item ages
at the same rate, the order between two items never changes while they wait, so the inbox
can keep one time-invariant sort key: ``60_000 * base_bp - aging_bp_per_minute * arrived_ms``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from personas.items import BP, HIGH_PRIORITY_BP, InboxItem, to_bp

MS_PER_MINUTE = 60_000


class PriorityWeights(BaseModel):
    """How much each signal of relevance adds, in basis points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mention_floor_bp: int = Field(default=8_500, gt=HIGH_PRIORITY_BP, le=BP)
    active_room_bp: int = Field(default=1_500, ge=0, le=BP)
    expertise_max_bp: int = Field(default=2_500, ge=0, le=BP)
    recency_max_bp: int = Field(default=1_000, ge=0, le=BP)
    recency_window_ms: int = Field(default=300_000, gt=0)
    human_sender_bp: int = Field(default=1_500, ge=0, le=BP)
    aging_bp_per_minute: int = Field(default=100, gt=0, le=BP)


class PriorityContext(BaseModel):
    """What the persona knows when an item arrives."""

    model_config = ConfigDict(frozen=True)

    persona_name: str
    persona_id: str
    expertise: frozenset[str]
    active_room: str | None
    now_ms: int


_NAME_CHAR = re.compile(r"[A-Za-z0-9_]")
MAX_MENTIONS = 32
"""An item names at most this many personas (the bound of ``InboxItem.mentions``)."""


def mentions_in(text: str, names: Iterable[str]) -> tuple[str, ...]:
    """The known ``names`` the text mentions as ``@Name``, in their known spelling, sorted.

    A mention is ``@`` (not inside a word, so an e-mail address is none) followed by a whole
    name, case-insensitive, and then a word boundary: ``@Ada,`` mentions Ada, ``@Adam`` does
    not. Where several names fit at one ``@`` (``Ada`` and ``Ada-bot`` in ``@Ada-bot``) the
    longest wins. A bare name is never a mention. At most :data:`MAX_MENTIONS` are kept.
    """
    by_lower: dict[str, str] = {}
    for name in names:
        by_lower.setdefault(name.lower(), name)
    longest_first = sorted(by_lower, key=len, reverse=True)
    lowered = text.lower()
    found: set[str] = set()
    start = lowered.find("@")
    while start != -1:
        before = text[start - 1] if start else ""
        if not (before and _NAME_CHAR.match(before)):
            for name in longest_first:
                end = start + 1 + len(name)
                if lowered.startswith(name, start + 1) and not (
                    end < len(text) and _NAME_CHAR.match(text[end])
                ):
                    found.add(by_lower[name])
                    break
        start = lowered.find("@", start + 1)
    return tuple(sorted(found))[:MAX_MENTIONS]


def is_mentioned(item: InboxItem, ctx: PriorityContext) -> bool:
    """Whether the item names the persona (by name, case-insensitive, or by id)."""
    names = {ctx.persona_name.lower(), ctx.persona_id.lower()}
    return any(m.lower() in names for m in item.mentions)


def expertise_bp(item: InboxItem, ctx: PriorityContext, weights: PriorityWeights) -> int:
    """Relevance to the persona's expertise: the share of its topics the persona knows."""
    if not item.topics or not ctx.expertise:
        return 0
    known = {e.lower() for e in ctx.expertise}
    matched = len({t.lower() for t in item.topics} & known)
    # Two matching topics already make an item fully relevant.
    return weights.expertise_max_bp * min(matched, 2) // 2


def recency_bp(item: InboxItem, ctx: PriorityContext, weights: PriorityWeights) -> int:
    """Fresh items count more; the bonus falls linearly to zero over the recency window."""
    age_ms = max(0, ctx.now_ms - int(item.sent_at.timestamp() * 1000))
    remaining = max(0, weights.recency_window_ms - age_ms)
    return weights.recency_max_bp * remaining // weights.recency_window_ms


def base_priority_bp(item: InboxItem, ctx: PriorityContext, weights: PriorityWeights) -> int:
    """The item's priority on arrival: the larger of its declared priority and its relevance."""
    relevance = (
        (weights.active_room_bp if item.room_id and item.room_id == ctx.active_room else 0)
        + expertise_bp(item, ctx, weights)
        + recency_bp(item, ctx, weights)
        + (weights.human_sender_bp if item.sender_is_human else 0)
    )
    base = max(to_bp(item.priority), relevance)
    if is_mentioned(item, ctx):
        base = max(base, weights.mention_floor_bp)
    return min(base, BP)


def sort_key(base_bp: int, arrived_ms: int, weights: PriorityWeights) -> int:
    """Time-invariant rank of an entry: higher first (see the module docstring)."""
    return MS_PER_MINUTE * base_bp - weights.aging_bp_per_minute * arrived_ms


def effective_bp(base_bp: int, arrived_ms: int, now_ms: int, weights: PriorityWeights) -> int:
    """Priority after aging, capped at 1.0."""
    waited = max(0, now_ms - arrived_ms)
    return min(BP, base_bp + weights.aging_bp_per_minute * waited // MS_PER_MINUTE)


def overtaking_window_ms(base_bp: int, weights: PriorityWeights) -> int:
    """No item arriving more than this long after an item of ``base_bp`` is ranked above it.

    This is the no-starvation bound: an item only ever waits behind what was already queued
    and what arrived within this window after it.
    """
    return (BP - base_bp) * MS_PER_MINUTE // weights.aging_bp_per_minute
