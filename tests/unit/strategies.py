"""Hypothesis strategies and small builders shared by the domain unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from personas.items import BP, Dependency, InboxEntry, InboxItem
from personas.priority import MS_PER_MINUTE, PriorityWeights

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)

TOPICS = ("python", "rust", "sql", "docs", "ops", "ml", "security", "web")
ROOMS = ("lobby", "dev", "ops", "random")

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
identifiers = st.builds(
    str.__add__,
    st.sampled_from(_LETTERS + _DIGITS),
    st.text(alphabet=_LETTERS + _DIGITS + "_.:@-", max_size=20),
)
"""Valid identifiers (the IDENTIFIER pattern), kept short."""
persona_names = st.builds(
    str.__add__, st.sampled_from(_LETTERS), st.text(alphabet=_LETTERS + _DIGITS + "_-", max_size=15)
)
"""Valid persona names."""
aware_datetimes = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
bps = st.integers(min_value=0, max_value=BP)


def item(item_id: str = "m1", **fields: Any) -> InboxItem:
    """A valid inbox item, with defaults for the required fields."""
    values: dict[str, Any] = {"item_id": item_id, "sender_id": "bob", "sent_at": T0}
    values.update(fields)
    return InboxItem.model_validate(values)


def entry(seq: int, base_bp: int, arrived_ms: int, **fields: Any) -> InboxEntry:
    """An inbox entry wrapping an item named after its sequence number."""
    return InboxEntry(
        item=item(f"i{seq}", **fields), base_bp=base_bp, arrived_ms=arrived_ms, seq=seq
    )


def waits_for(*task_keys: str) -> tuple[Dependency, ...]:
    """Dependencies on other personas' tasks (one persona per task)."""
    return tuple(Dependency(persona_id=f"p-{key}", task_key=key) for key in task_keys)


def exact_aged(base_bp: int, arrived_ms: int, now_ms: int, weights: PriorityWeights) -> int:
    """Reference model: the uncapped aged priority in units of 1/60,000 basis point.

    Independent of :func:`personas.priority.sort_key`: it is what aging means, computed
    without rounding, so that comparisons between entries are exact.
    """
    return MS_PER_MINUTE * base_bp + weights.aging_bp_per_minute * (now_ms - arrived_ms)


@st.composite
def priority_weights(draw: st.DrawFn) -> PriorityWeights:
    """Any valid priority weights."""
    return PriorityWeights(
        mention_floor_bp=draw(st.integers(min_value=8_001, max_value=BP)),
        active_room_bp=draw(bps),
        expertise_max_bp=draw(bps),
        recency_max_bp=draw(bps),
        recency_window_ms=draw(st.integers(min_value=1, max_value=10**9)),
        human_sender_bp=draw(bps),
        aging_bp_per_minute=draw(st.integers(min_value=1, max_value=BP)),
    )
