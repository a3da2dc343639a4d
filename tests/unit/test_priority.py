"""Priority: exact boundaries, mentions, relevance signals, aging and the overtaking window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personas.cadence import EngagementThresholds, engages, is_urgent
from personas.items import BP, HIGH_PRIORITY_BP, InboxItem, to_bp
from personas.priority import (
    MAX_MENTIONS,
    PriorityContext,
    PriorityWeights,
    base_priority_bp,
    effective_bp,
    expertise_bp,
    is_mentioned,
    mentions_in,
    overtaking_window_ms,
    recency_bp,
    sort_key,
)
from personas.state import Mood
from tests.unit.strategies import (
    ROOMS,
    T0,
    T0_MS,
    TOPICS,
    aware_datetimes,
    bps,
    exact_aged,
    identifiers,
    item,
    persona_names,
    priority_weights,
)

PERSONA_ID = "6f1c2a3e-0d4b-4c5e-9f60-7a8b9c0d1e2f"
DEFAULT = PriorityWeights()


def ctx(
    now_ms: int = T0_MS,
    *,
    name: str = "Ada",
    persona_id: str = PERSONA_ID,
    expertise: frozenset[str] = frozenset(),
    active_room: str | None = None,
) -> PriorityContext:
    return PriorityContext(
        persona_name=name,
        persona_id=persona_id,
        expertise=expertise,
        active_room=active_room,
        now_ms=now_ms,
    )


# --- the high-priority boundary ------------------------------------------------------------


def test_declared_point_eight_is_not_urgent_but_point_eight_zero_zero_one_is() -> None:
    at = base_priority_bp(item(priority=0.8), ctx(T0_MS + 10 * 60_000), DEFAULT)
    above = base_priority_bp(item(priority=0.8001), ctx(T0_MS + 10 * 60_000), DEFAULT)
    assert at == HIGH_PRIORITY_BP == 8_000
    assert above == 8_001
    assert not is_urgent(at)
    assert is_urgent(above)


def test_point_eight_is_not_engaged_by_a_choosy_persona_but_point_eight_zero_zero_one_is() -> None:
    choosy = EngagementThresholds(
        active_bp=9_000, tired_bp=9_000, overwhelmed_bp=9_000, idle_bp=9_000
    )
    for mood in Mood:
        assert not engages(to_bp(0.8), mood, choosy)
        assert engages(to_bp(0.8001), mood, choosy)


@settings(max_examples=150, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0, allow_nan=False))
def test_declared_priority_is_urgent_exactly_above_point_eight(priority: float) -> None:
    bp = to_bp(priority)
    assert 0 <= bp <= BP
    if priority <= 0.8:
        assert not is_urgent(bp)
    if priority >= 0.8001:
        assert is_urgent(bp)


@st.composite
def mentioning_items(draw: st.DrawFn) -> tuple[InboxItem, PriorityContext, PriorityWeights]:
    """An item that mentions the persona (by name or id, in any case), all else arbitrary."""
    name = draw(persona_names)
    persona_id = str(draw(st.uuids()))
    target = draw(st.sampled_from([name, persona_id]))
    flips = draw(st.lists(st.booleans(), min_size=len(target), max_size=len(target)))
    mention = "".join(c.upper() if f else c.lower() for c, f in zip(target, flips, strict=True))
    others = draw(st.lists(identifiers, max_size=10))
    position = draw(st.integers(min_value=0, max_value=len(others)))
    mentions = (*others[:position], mention, *others[position:])
    sent_at = draw(aware_datetimes)
    sent_ms = int(sent_at.timestamp() * 1000)
    now_ms = sent_ms + draw(st.integers(min_value=-(10**9), max_value=10**10))
    the_item = item(
        mentions=mentions,
        topics=tuple(draw(st.lists(st.sampled_from(TOPICS), max_size=5))),
        priority=draw(st.floats(min_value=0.0, max_value=1.0, allow_nan=False)),
        sender_is_human=draw(st.booleans()),
        room_id=draw(st.none() | st.sampled_from(ROOMS)),
        sent_at=sent_at,
    )
    context = ctx(
        now_ms,
        name=name,
        persona_id=persona_id,
        expertise=frozenset(draw(st.sets(st.sampled_from(TOPICS)))),
        active_room=draw(st.none() | st.sampled_from(ROOMS)),
    )
    weights = draw(st.just(DEFAULT) | priority_weights())
    return the_item, context, weights


@st.composite
def thresholds(draw: st.DrawFn) -> EngagementThresholds:
    return EngagementThresholds(
        active_bp=draw(bps), tired_bp=draw(bps), overwhelmed_bp=draw(bps), idle_bp=draw(bps)
    )


@settings(max_examples=150, deadline=None)
@given(
    case=mentioning_items(),
    waited_ms=st.integers(min_value=0, max_value=10**10),
    limits=st.just(EngagementThresholds()) | thresholds(),
)
def test_a_mention_is_always_high_priority_and_engaged_in_every_mood(
    case: tuple[InboxItem, PriorityContext, PriorityWeights],
    waited_ms: int,
    limits: EngagementThresholds,
) -> None:
    the_item, context, weights = case
    assert is_mentioned(the_item, context)
    base = base_priority_bp(the_item, context, weights)
    assert base >= weights.mention_floor_bp
    assert HIGH_PRIORITY_BP < base <= BP
    arrived = context.now_ms
    eff = effective_bp(base, arrived, arrived + waited_ms, weights)
    assert HIGH_PRIORITY_BP < eff <= BP
    assert is_urgent(eff)
    for mood in Mood:
        assert engages(base, mood, limits)
        assert engages(eff, mood, limits)


def test_mentions_match_whole_names_only() -> None:
    context = ctx(name="Ada")
    assert is_mentioned(item(mentions=("aDA",)), context)
    assert is_mentioned(item(mentions=(PERSONA_ID.upper(),)), context)
    assert not is_mentioned(item(mentions=("Adam", "Ad", "bob")), context)
    assert not is_mentioned(item(), context)


@settings(max_examples=100, deadline=None)
@given(
    priority=st.floats(min_value=0.0, max_value=0.8, allow_nan=False),
    topics=st.lists(st.sampled_from(TOPICS), max_size=6),
    human=st.booleans(),
    room=st.none() | st.sampled_from(ROOMS),
    active=st.none() | st.sampled_from(ROOMS),
    age_ms=st.integers(min_value=-(10**8), max_value=10**8),
)
def test_without_a_mention_default_relevance_never_reaches_high_priority(
    priority: float,
    topics: list[str],
    human: bool,
    room: str | None,
    active: str | None,
    age_ms: int,
) -> None:
    the_item = item(priority=priority, topics=tuple(topics), sender_is_human=human, room_id=room)
    context = ctx(T0_MS + age_ms, expertise=frozenset(TOPICS), active_room=active)
    base = base_priority_bp(the_item, context, DEFAULT)
    assert base >= to_bp(priority)
    assert not is_urgent(base)


# --- the relevance signals, by value --------------------------------------------------------


def test_expertise_counts_the_share_of_known_topics_up_to_two() -> None:
    known = ctx(expertise=frozenset({"python", "sql", "rust"}))
    assert expertise_bp(item(topics=("python",)), known, DEFAULT) == 1_250
    assert expertise_bp(item(topics=("python", "docs")), known, DEFAULT) == 1_250
    assert expertise_bp(item(topics=("python", "sql")), known, DEFAULT) == 2_500
    assert expertise_bp(item(topics=("python", "sql", "rust")), known, DEFAULT) == 2_500
    assert expertise_bp(item(topics=("docs",)), known, DEFAULT) == 0
    assert expertise_bp(item(), known, DEFAULT) == 0
    assert expertise_bp(item(topics=("python",)), ctx(), DEFAULT) == 0


def test_expertise_matching_is_case_insensitive_on_both_sides() -> None:
    mixed = ctx(expertise=frozenset({"Python", "SQL"}))
    assert expertise_bp(item(topics=("python", "sql")), mixed, DEFAULT) == 2_500
    assert expertise_bp(item(topics=("PYTHON",)), mixed, DEFAULT) == 1_250


def test_recency_falls_linearly_over_the_window() -> None:
    fresh = item(sent_at=T0)
    assert recency_bp(fresh, ctx(T0_MS), DEFAULT) == 1_000
    assert recency_bp(fresh, ctx(T0_MS + 75_000), DEFAULT) == 750
    assert recency_bp(fresh, ctx(T0_MS + 150_000), DEFAULT) == 500
    assert recency_bp(fresh, ctx(T0_MS + 299_999), DEFAULT) == 0
    assert recency_bp(fresh, ctx(T0_MS + 300_000), DEFAULT) == 0
    assert recency_bp(fresh, ctx(T0_MS + 10**9), DEFAULT) == 0
    # Sent "in the future" (clock skew): as fresh as can be, not more.
    assert recency_bp(fresh, ctx(T0_MS - 60_000), DEFAULT) == 1_000


@settings(max_examples=100, deadline=None)
@given(
    sent_at=aware_datetimes,
    a=st.integers(min_value=-(10**9), max_value=10**9),
    b=st.integers(min_value=-(10**9), max_value=10**9),
    weights=priority_weights(),
)
def test_recency_never_grows_with_age(sent_at, a: int, b: int, weights: PriorityWeights) -> None:
    sent_ms = int(sent_at.timestamp() * 1000)
    early, late = sorted((sent_ms + a, sent_ms + b))
    the_item = item(sent_at=sent_at)
    r_early = recency_bp(the_item, ctx(early), weights)
    r_late = recency_bp(the_item, ctx(late), weights)
    assert 0 <= r_late <= r_early <= weights.recency_max_bp


def test_base_priority_sums_the_signals_and_takes_the_larger_of_declared_and_relevance() -> None:
    context = ctx(T0_MS + 150_000, expertise=frozenset({"python"}), active_room="dev")
    signals = item(topics=("python", "docs"), sender_is_human=True, room_id="dev", sent_at=T0)
    # room 1500 + expertise 1250 + recency 500 + human 1500
    assert base_priority_bp(signals, context, DEFAULT) == 4_750
    declared = signals.model_copy(update={"priority": 0.6})
    assert base_priority_bp(declared, context, DEFAULT) == 6_000
    other_room = signals.model_copy(update={"room_id": "ops"})
    assert base_priority_bp(other_room, context, DEFAULT) == 3_250


def test_no_room_does_not_count_as_being_in_the_active_room() -> None:
    assert base_priority_bp(item(room_id=None), ctx(T0_MS + 10**7, active_room=None), DEFAULT) == 0


def test_base_priority_is_capped_at_one() -> None:
    loud = PriorityWeights(
        active_room_bp=BP, expertise_max_bp=BP, recency_max_bp=BP, human_sender_bp=BP
    )
    context = ctx(T0_MS, expertise=frozenset({"python"}), active_room="dev")
    signals = item(topics=("python",), sender_is_human=True, room_id="dev", mentions=("ada",))
    assert base_priority_bp(signals, context, loud) == BP


# --- aging -----------------------------------------------------------------------------------


def test_effective_priority_ages_by_whole_minutes_and_caps() -> None:
    # 100 bp a minute is one basis point every 600 ms, rounded down.
    assert effective_bp(0, 0, 599, DEFAULT) == 0
    assert effective_bp(0, 0, 600, DEFAULT) == 1
    assert effective_bp(0, 0, 59_999, DEFAULT) == 99
    assert effective_bp(0, 0, 60_000, DEFAULT) == 100
    assert effective_bp(2_500, 1_000, 1_000 + 30 * 60_000, DEFAULT) == 5_500
    assert effective_bp(9_950, 0, 60_000, DEFAULT) == BP
    # Asked about a time before arrival: no negative aging.
    assert effective_bp(4_000, 10**6, 0, DEFAULT) == 4_000


@settings(max_examples=150, deadline=None)
@given(
    the_item=st.builds(
        item,
        topics=st.lists(st.sampled_from(TOPICS), max_size=4).map(tuple),
        mentions=st.lists(st.sampled_from(["ada", "bob", PERSONA_ID]), max_size=3).map(tuple),
        priority=st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
        sender_is_human=st.booleans(),
        room_id=st.none() | st.sampled_from(ROOMS),
        sent_at=aware_datetimes,
    ),
    weights=priority_weights(),
    now_ms=st.integers(min_value=0, max_value=4 * 10**12),
    arrived_ms=st.integers(min_value=0, max_value=4 * 10**12),
    later_ms=st.integers(min_value=-(10**12), max_value=10**12),
)
def test_priority_never_leaves_zero_to_ten_thousand(
    the_item: InboxItem, weights: PriorityWeights, now_ms: int, arrived_ms: int, later_ms: int
) -> None:
    context = ctx(now_ms, expertise=frozenset({"python", "sql"}), active_room="dev")
    base = base_priority_bp(the_item, context, weights)
    assert 0 <= base <= BP
    eff = effective_bp(base, arrived_ms, now_ms + later_ms, weights)
    if now_ms + later_ms >= arrived_ms:
        assert base <= eff <= BP
    else:  # asked about a time before arrival: no aging at all
        assert eff == base


@settings(max_examples=150, deadline=None)
@given(
    b1=bps,
    a1=st.integers(min_value=-(10**10), max_value=10**10),
    b2=bps,
    a2=st.integers(min_value=-(10**10), max_value=10**10),
    now=st.integers(min_value=-(10**11), max_value=10**11),
    weights=priority_weights(),
)
def test_sort_key_orders_entries_as_their_exact_aged_priorities_at_any_time(
    b1: int, a1: int, b2: int, a2: int, now: int, weights: PriorityWeights
) -> None:
    key_diff = sort_key(b1, a1, weights) - sort_key(b2, a2, weights)
    aged_diff = exact_aged(b1, a1, now, weights) - exact_aged(b2, a2, now, weights)
    assert key_diff == aged_diff
    if now >= max(a1, a2) and key_diff > 0:
        assert effective_bp(b1, a1, now, weights) >= effective_bp(b2, a2, now, weights)


# --- the overtaking window -------------------------------------------------------------------


def test_overtaking_window_with_default_weights() -> None:
    assert overtaking_window_ms(0, DEFAULT) == 100 * 60_000
    assert overtaking_window_ms(7_900, DEFAULT) == 21 * 60_000
    assert overtaking_window_ms(BP, DEFAULT) == 0


@settings(max_examples=150, deadline=None)
@given(base=bps, arrived=st.integers(min_value=0, max_value=10**12), weights=priority_weights())
def test_overtaking_window_is_tight(base: int, arrived: int, weights: PriorityWeights) -> None:
    window = overtaking_window_ms(base, weights)
    mine = sort_key(base, arrived, weights)
    # Nothing arriving after the window outranks (or ties) the entry ...
    assert sort_key(BP, arrived + window + 1, weights) < mine
    # ... and a top-priority item arriving one millisecond inside it does.
    if window >= 1:
        assert sort_key(BP, arrived + window - 1, weights) > mine


def test_aging_lifts_an_old_item_above_a_fresh_one() -> None:
    old = (1_000, T0_MS)
    fresh = (2_000, T0_MS + int(timedelta(minutes=11).total_seconds() * 1000))
    assert sort_key(*old, DEFAULT) > sort_key(*fresh, DEFAULT)
    fresh_sooner = (2_000, T0_MS + 9 * 60_000)
    assert sort_key(*old, DEFAULT) < sort_key(*fresh_sooner, DEFAULT)


@pytest.mark.parametrize("bad", [{"mention_floor_bp": 8_000}, {"aging_bp_per_minute": 0}])
def test_weights_refuse_a_mention_floor_at_the_boundary_and_no_aging(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="greater than"):
        PriorityWeights.model_validate(bad)


# --- mentions in text: ``@Name`` only ------------------------------------------------------


def test_a_mention_is_at_name_with_a_word_boundary() -> None:
    names = {"Ada", "Deploy", "Ada-bot"}
    assert mentions_in("hi @ada, and @DEPLOY!", names) == ("Ada", "Deploy")
    assert mentions_in("the deploy pipeline is green, ada", names) == ()
    assert mentions_in("@Adam @Adaline @deployer", names) == ()
    assert mentions_in("mail ada@ada.example or x@Deploy", names) == ()
    assert mentions_in("@Ada-bot please", names) == ("Ada-bot",)
    assert mentions_in("@Ada-", names) == ("Ada",)
    assert mentions_in("@Ada.", names) == ("Ada",)
    assert mentions_in("@unknown", names) == ()


_filler = st.text(alphabet=" ,.!?\n", min_size=1, max_size=3)
_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", max_size=30)


@given(name=persona_names, before=_words, after=_words, sep=_filler, upper=st.booleans())
def test_an_at_name_between_word_boundaries_is_always_a_mention(
    name: str, before: str, after: str, sep: str, upper: bool
) -> None:
    spelled = name.upper() if upper else name.lower()
    text = f"{before}{sep}@{spelled}{sep}{after}"
    assert name in mentions_in(text, {name})


@given(name=persona_names, text=st.text(max_size=80))
def test_text_without_at_never_mentions(name: str, text: str) -> None:
    assert mentions_in(text.replace("@", ""), {name}) == ()


@given(name=persona_names, suffix=st.text(alphabet="abcXYZ019_", min_size=1, max_size=5))
def test_a_longer_word_is_no_mention(name: str, suffix: str) -> None:
    assert mentions_in(f"@{name}{suffix}", {name}) == ()
    assert mentions_in(f"x@{name}", {name}) == ()


@given(names=st.sets(persona_names, max_size=50), text=st.text(alphabet="@abAB-_ ,", max_size=60))
def test_mentions_are_known_names_and_bounded(names: set[str], text: str) -> None:
    found = mentions_in(text, names)
    assert set(found) <= names
    assert len(found) <= MAX_MENTIONS
    assert list(found) == sorted(set(found))
