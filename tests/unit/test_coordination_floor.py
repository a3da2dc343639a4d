"""A room's delivery order, its bounded backlog, and when its floors close."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from personas.coordination import FloorPolicy
from personas.coordination_floor import (
    DELIVERY_BATCH,
    MemberPace,
    PendingPost,
    admit,
    chatter_room,
    floor_deadline_ms,
    max_wait_ms,
    mentions_member,
    observe,
    post_rank_bp,
    take,
)
from personas.messages import DELIVER_BATCH_MAX
from tests.unit.strategies import item

NAMES = ["Ann", "Ben"]


def post(seq: int, **fields: object) -> PendingPost:
    it = item(f"p{seq}", **fields)
    return PendingPost(item=it, rank_bp=post_rank_bp(it, NAMES), seq=seq)


def test_a_mention_then_a_person_then_chatter() -> None:
    mention = post(3, mentions=("ann",))
    human = post(2, sender_is_human=True)
    chatter = post(1, priority=1.0)
    assert mention.rank_bp > human.rank_bp > chatter.rank_bp
    assert mention.priority
    assert human.priority
    assert not chatter.priority
    backlog: list[PendingPost] = []
    for p in (chatter, human, mention):
        backlog, shed = admit(backlog, p, 10)
        assert shed is None
    assert [p.seq for p in backlog] == [3, 2, 1]


def test_only_members_mentions_count_once_names_are_known() -> None:
    it = item("x", mentions=("Zed",))
    assert not mentions_member(it, NAMES)
    assert mentions_member(it, None)  # names not learnt yet: any mention is a priority
    assert not mentions_member(item("y"), None)


def test_a_full_backlog_sheds_the_lowest_latest_post_even_the_new_one() -> None:
    backlog: list[PendingPost] = []
    for seq in range(3):
        backlog, _ = admit(backlog, post(seq), 3)
    backlog, shed = admit(backlog, post(3), 3)
    assert shed is not None
    assert shed.seq == 3
    backlog, shed = admit(backlog, post(4, sender_is_human=True), 3)
    assert shed is not None
    assert shed.seq == 2
    assert [p.seq for p in backlog] == [4, 0, 1]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.booleans(), st.integers(0, 100)), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=10),
)
def test_the_backlog_is_bounded_ordered_and_loses_nothing_silently(
    posts: list[tuple[bool, bool, int]], capacity: int
) -> None:
    backlog: list[PendingPost] = []
    shed: list[PendingPost] = []
    for seq, (human, mention, priority) in enumerate(posts):
        mentions = ("Ben",) if mention else ()
        p = post(seq, sender_is_human=human, mentions=mentions, priority=priority / 100)
        backlog, lost = admit(backlog, p, capacity)
        if lost is not None:
            shed.append(lost)
            assert all((lost.rank_bp, -lost.seq) <= (k.rank_bp, -k.seq) for k in backlog)
        assert len(backlog) <= capacity
    assert sorted(p.seq for p in backlog + shed) == list(range(len(posts)))
    assert backlog == sorted(backlog, key=lambda p: (-p.rank_bp, p.seq))
    chosen, rest = take(backlog, True, 3)
    assert len(chosen) <= 3
    assert all(p.priority for p in chosen)
    assert sorted(p.seq for p in chosen + rest) == sorted(p.seq for p in backlog)
    assert chosen == [p for p in backlog if p.priority][:3]


@settings(max_examples=200, deadline=None)
@given(
    delivered=st.integers(0, 10**12),
    paces=st.dictionaries(
        st.sampled_from(["a", "b", "c", "d"]),
        st.builds(
            MemberPace, next_free_ms=st.integers(0, 10**12 + 10**7), lag_ms=st.integers(0, 10**6)
        ),
    ),
    slack=st.floats(0.1, 100),
    cap=st.floats(0.1, 100),
)
def test_every_floor_closes_within_its_bound_and_waits_for_its_members(
    delivered: int, paces: dict[str, MemberPace], slack: float, cap: float
) -> None:
    policy = FloorPolicy(decision_deadline_s=slack, max_decision_s=cap)
    expected = ["a", "b", "c", "d"]
    deadline = floor_deadline_ms(delivered, expected, paces, policy)
    assert delivered < deadline <= delivered + max_wait_ms(policy)
    for pace in paces.values():
        due = max(delivered, pace.next_free_ms) + pace.lag_ms + round(slack * 1000)
        assert deadline >= min(due, delivered + max_wait_ms(policy))


def test_a_floor_waits_for_a_member_that_is_busy_until_later() -> None:
    policy = FloorPolicy(decision_deadline_s=2, max_decision_s=30)
    paces = {"a": MemberPace(next_free_ms=10_000, lag_ms=500)}
    assert floor_deadline_ms(1_000, ["a", "b"], paces, policy) == 12_500
    assert floor_deadline_ms(1_000, ["b"], paces, policy) == 3_000
    assert floor_deadline_ms(1_000, ["a"], {"a": MemberPace(next_free_ms=99_000)}, policy) == (
        31_000
    )


def test_lag_rises_at_once_and_halves_as_it_shrinks() -> None:
    pace = observe(None, 1_000, 5_000, 9_000, cap_ms=30_000)
    assert pace == MemberPace(next_free_ms=9_000, lag_ms=4_000)
    pace = observe(pace, 1_000, 1_100, None, cap_ms=30_000)
    assert pace == MemberPace(next_free_ms=0, lag_ms=2_000)
    assert observe(None, 0, 10**9, None, cap_ms=30_000).lag_ms == 30_000


def test_a_delivery_batch_is_a_bounded_list() -> None:
    assert DELIVERY_BATCH.validate_python([1, 2]) == [1, 2]
    for bad in ({"a": 1}, list(range(DELIVER_BATCH_MAX + 1))):
        try:
            DELIVERY_BATCH.validate_python(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")


@given(st.integers(1, 1_000), st.integers(0, 2_000))
def test_chatter_never_exceeds_its_window(window: int, open_chatter: int) -> None:
    room = chatter_room(open_chatter, FloorPolicy(chatter_window=window))
    assert room >= 0
    assert open_chatter + room <= max(window, open_chatter)
    assert room == 0 or open_chatter + room == window  # fills the window, no more
