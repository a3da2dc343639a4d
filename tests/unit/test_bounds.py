"""Bounds: every field at its limit still fits the server's payload limit; refusals are short."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from personas.bounds import ID_CHARS, QUOTE_CHARS, WORD_CHARS, quote
from personas.inbox import INBOX_MAX_BYTES, Inbox
from personas.items import (
    ITEM_MAX_BYTES,
    MAX_MENTIONS,
    MAX_TOPICS,
    MAX_WAITS_FOR,
    Dependency,
    InboxItem,
)
from personas.life import (
    MAX_GRANTS,
    MAX_REMEMBERED,
    MAX_SATISFIED,
    MAX_SUBSCRIPTIONS,
    SHED_BATCH_BYTES,
    FloorGrant,
    LifeSnapshot,
    PersonaLifeInput,
    ShedNotice,
    Subscription,
    shed_batch,
)
from personas.models import AIPersonaProfile
from personas.state import PersonaState

SERVER_PAYLOAD_LIMIT = 2 * 1024 * 1024


def _id(i: int, n: int = ID_CHARS) -> str:
    return f"{i}".rjust(n, "a")


def largest_item(i: int) -> InboxItem:
    """An item with every string and tuple at its bound."""
    return InboxItem(
        item_id=_id(i),
        sender_id=_id(i),
        room_id=_id(i),
        content_ref=_id(i),
        task_key=_id(i),
        mentions=tuple(_id(j) for j in range(MAX_MENTIONS)),
        topics=tuple("t" * WORD_CHARS for _ in range(MAX_TOPICS)),
        waits_for=tuple(
            Dependency(persona_id=_id(j), task_key=_id(j)) for j in range(MAX_WAITS_FOR)
        ),
        sent_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_the_largest_item_fits_its_byte_bound() -> None:
    assert len(largest_item(0).model_dump_json()) <= ITEM_MAX_BYTES


def test_a_life_with_every_collection_full_still_continues_as_new() -> None:
    inbox = Inbox(capacity=100_000)
    for i in range(INBOX_MAX_BYTES // 1_000):  # far more bytes than the budget admits
        inbox.push(inbox.new_entry(largest_item(i), 5_000, i))
        inbox.trim()
    assert inbox.size() <= INBOX_MAX_BYTES
    life = LifeSnapshot(inbox=inbox, state=PersonaState())
    for i in range(MAX_SATISFIED + 10):
        life.satisfy(
            Dependency(persona_id=_id(i), task_key=_id(i)), set(life.satisfied), MAX_SATISFIED
        )
    for i in range(MAX_SUBSCRIPTIONS + 10):
        life.subscribe(Subscription(task_key=_id(i), subscriber_id=_id(i)))
    for i in range(MAX_GRANTS + 10):
        life.grant(FloorGrant(room_id=_id(i), message_id=_id(i), thought_ref=_id(i)))
    life.recent_ids = [_id(i) for i in range(MAX_REMEMBERED)]
    life.completed = [_id(i) for i in range(MAX_REMEMBERED)]
    assert len(life.satisfied) == MAX_SATISFIED
    assert sum(len(v) for v in life.subscribers.values()) == MAX_SUBSCRIPTIONS
    assert len(life.grants) == MAX_GRANTS
    profile = AIPersonaProfile(
        entity_id=_id(0),
        name="A" * 64,
        base_persona="m" * 128,
        specialization="s" * 256,
        access_scope=tuple(_id(i) for i in range(1_000)),
    )
    carried = PersonaLifeInput(profile=profile, snapshot=life).model_dump_json()
    assert len(carried) < SERVER_PAYLOAD_LIMIT
    assert LifeSnapshot.model_validate_json(
        PersonaLifeInput.model_validate_json(carried).snapshot.model_dump_json()  # type: ignore[union-attr]
    )


def test_trim_sheds_held_items_first_then_the_lowest_ranked() -> None:
    inbox = Inbox(max_bytes=3 * ITEM_MAX_BYTES)
    for i in range(3):
        inbox.push(inbox.new_entry(largest_item(i), 1_000 * (i + 1), 0))
    inbox.hold(inbox.new_entry(largest_item(9), 9_000, 0))
    shed = inbox.trim()
    assert [s.reason for s in shed] == ["held_overflow"]
    inbox.push(inbox.new_entry(largest_item(5), 9_000, 0))
    inbox.push(inbox.new_entry(largest_item(6), 9_000, 0))
    shed = inbox.trim()
    assert all(s.reason == "inbox_bytes" for s in shed)
    assert shed[0].entry.base_bp == 1_000  # the lowest-ranked goes first
    assert inbox.size() <= inbox.max_bytes


def test_a_shed_batch_stays_within_its_bytes_and_takes_at_least_one() -> None:
    notices = [ShedNotice(item=largest_item(i), reason="r", priority_bp=0) for i in range(200)]
    batch = shed_batch(notices)
    assert 1 <= len(batch) < 200
    assert sum(len(n.item.model_dump_json()) for n in batch) <= SHED_BATCH_BYTES
    assert shed_batch(notices[:1], limit=1) == notices[:1]


@given(st.one_of(st.text(), st.binary(), st.integers(), st.lists(st.text())))
def test_a_quote_is_short_and_encodable(value: object) -> None:
    shown = quote(value)
    assert len(shown) <= QUOTE_CHARS
    shown.encode("utf-8")


def test_a_quote_of_a_huge_or_hostile_value() -> None:
    assert len(quote("x" * 10**6)) == QUOTE_CHARS
    assert quote("\ud800").encode()
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert len(quote(deep)) <= QUOTE_CHARS
