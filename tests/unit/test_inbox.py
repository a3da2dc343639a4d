"""The bounded inbox: order, shedding, no starvation, held items."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from personas.inbox import Inbox, Shed
from personas.items import BP, ITEM_MAX_BYTES, Dependency, InboxEntry
from personas.priority import PriorityWeights, effective_bp, overtaking_window_ms
from tests.unit.strategies import bps, exact_aged, item, priority_weights, waits_for

DEFAULT = PriorityWeights()
TASKS = ("a", "b", "c")


def ref_rank(entry: InboxEntry, weights: PriorityWeights) -> tuple[int, int]:
    """Reference processing order (smaller first): exact aged priority, then arrival seq."""
    return (-exact_aged(entry.base_bp, entry.arrived_ms, 0, weights), entry.seq)


def push_new(
    inbox: Inbox, base_bp: int, arrived_ms: int, **fields: object
) -> tuple[InboxEntry, Shed | None]:
    the_entry = inbox.new_entry(item(f"i{inbox.next_seq}", **fields), base_bp, arrived_ms)
    return the_entry, inbox.push(the_entry)


def pop_all(inbox: Inbox) -> list[InboxEntry]:
    popped = []
    while len(inbox):
        popped.append(inbox.pop())
    return popped


# --- order -----------------------------------------------------------------------------------

arrivals = st.integers(min_value=0, max_value=10**9) | st.integers(0, 30).map(lambda m: m * 60_000)
tie_prone_bps = bps | st.sampled_from([0, 100, 200, 5_000, BP])


@settings(max_examples=150, deadline=None)
@given(
    pushes=st.lists(st.tuples(tie_prone_bps, arrivals), min_size=1, max_size=40),
    weights=st.just(DEFAULT) | priority_weights(),
    later1=st.integers(min_value=0, max_value=10**10),
    later2=st.integers(min_value=0, max_value=10**10),
)
def test_popping_yields_non_increasing_effective_priority_at_any_common_time(
    pushes: list[tuple[int, int]], weights: PriorityWeights, later1: int, later2: int
) -> None:
    inbox = Inbox(weights=weights)
    pushed = [push_new(inbox, b, a)[0] for b, a in pushes]
    assert inbox.peek() == min(pushed, key=lambda e: ref_rank(e, weights))
    popped = pop_all(inbox)
    assert Counter(e.seq for e in popped) == Counter(e.seq for e in pushed)

    last = max(a for _, a in pushes)
    for now in (last, last + later1, last + later2):
        effs = [effective_bp(e.base_bp, e.arrived_ms, now, weights) for e in popped]
        assert all(x >= y for x, y in pairwise(effs)), (now, effs)
        # The same order as the exact aged priorities at that time, ties by arrival seq:
        # the order does not depend on when it is looked at.

        def at_now(e: InboxEntry, now: int = now) -> tuple[int, int]:
            return (-exact_aged(e.base_bp, e.arrived_ms, now, weights), e.seq)

        exact = sorted(popped, key=at_now)
        assert [e.seq for e in popped] == [e.seq for e in exact]


def test_equal_priorities_come_out_in_arrival_order() -> None:
    inbox = Inbox()
    for _ in range(5):
        push_new(inbox, 3_000, 1_000)
    # Same aged priority: 100 bp more, one minute later.
    push_new(inbox, 2_900, 1_000 - 60_000)
    assert [e.seq for e in pop_all(inbox)] == [0, 1, 2, 3, 4, 5]


def test_head_effective_priority_includes_aging() -> None:
    inbox = Inbox()
    assert inbox.head_effective_bp(10**9) == 0
    push_new(inbox, 4_000, 0)
    push_new(inbox, 1_000, 0)
    assert inbox.head_effective_bp(0) == 4_000
    assert inbox.head_effective_bp(5 * 60_000) == 4_500


# --- shedding and conservation ---------------------------------------------------------------


@dataclass
class Model:
    created: list[InboxEntry]
    popped: list[InboxEntry]
    shed: list[Shed]


op = st.one_of(
    st.tuples(st.just("push"), tie_prone_bps, arrivals, st.just(frozenset[str]())),
    st.tuples(st.just("hold"), tie_prone_bps, arrivals, st.frozensets(st.sampled_from(TASKS))),
    st.tuples(st.just("pop"), st.just(0), st.just(0), st.just(frozenset[str]())),
    st.tuples(st.just("release"), st.just(0), st.just(0), st.frozensets(st.sampled_from(TASKS))),
)


@settings(max_examples=150, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=6),
    ops=st.lists(op, max_size=60),
    weights=st.just(DEFAULT) | priority_weights(),
)
def test_shedding_loses_nothing_duplicates_nothing_and_sheds_the_lowest(
    capacity: int, ops: list[tuple[str, int, int, frozenset[str]]], weights: PriorityWeights
) -> None:
    inbox = Inbox(capacity=capacity, weights=weights)
    model = Model(created=[], popped=[], shed=[])
    for kind, base, arrived, tasks in ops:
        sheds: list[Shed] = []
        if kind == "push":
            the_entry, shed = push_new(inbox, base, arrived)
            model.created.append(the_entry)
            sheds = [shed] if shed else []
            assert all(s.reason == "inbox_full" for s in sheds)
        elif kind == "hold":
            the_entry = inbox.new_entry(
                item(f"i{inbox.next_seq}", waits_for=waits_for(*sorted(tasks))), base, arrived
            )
            oldest = inbox.held[0] if inbox.held else the_entry
            model.created.append(the_entry)
            shed = inbox.hold(the_entry)
            if shed is not None:
                assert shed.reason == "held_overflow"
                assert shed.entry == oldest
                model.shed.append(shed)
        elif kind == "pop":
            if len(inbox):
                head = inbox.peek()
                assert head is not None
                assert all(
                    ref_rank(head, weights) < ref_rank(e, weights) for e in inbox.entries[1:]
                )
                model.popped.append(inbox.pop())
        else:
            before = list(inbox.held)
            sheds = inbox.release_ready(set(waits_for(*tasks)))
            ready = [e for e in before if set(e.item.waits_for) <= set(waits_for(*tasks))]
            assert inbox.held == [e for e in before if e not in ready]
            assert all(s.reason == "inbox_full" for s in sheds)

        # Each entry shed from the queue ranks no higher than everything left in it.
        for shed in sheds:
            for left in inbox.entries:
                assert ref_rank(shed.entry, weights) > ref_rank(left, weights)
        model.shed.extend(sheds)

        assert len(inbox) <= capacity
        assert len(inbox.held) <= capacity
        assert [ref_rank(e, weights) for e in inbox.entries] == sorted(
            ref_rank(e, weights) for e in inbox.entries
        )
        where = Counter(
            [e.seq for e in inbox.entries]
            + [e.seq for e in inbox.held]
            + [e.seq for e in model.popped]
            + [s.entry.seq for s in model.shed]
        )
        assert where == Counter(e.seq for e in model.created)  # each exactly once


@settings(max_examples=100, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=10),
    pushes=st.lists(st.tuples(tie_prone_bps, arrivals), max_size=40),
)
def test_a_full_inbox_keeps_the_capacity_best(capacity: int, pushes: list[tuple[int, int]]) -> None:
    inbox = Inbox(capacity=capacity)
    created = [push_new(inbox, b, a)[0] for b, a in pushes]
    best = sorted(created, key=lambda e: ref_rank(e, DEFAULT))[:capacity]
    assert [e.seq for e in inbox.entries] == [e.seq for e in best]


def test_a_full_inbox_sheds_the_newcomer_when_it_ranks_lowest() -> None:
    inbox = Inbox(capacity=2)
    push_new(inbox, 5_000, 0)
    push_new(inbox, 6_000, 0)
    newcomer, shed = push_new(inbox, 1_000, 0)
    assert shed is not None
    assert shed.entry == newcomer
    assert shed.reason == "inbox_full"
    _, shed = push_new(inbox, 9_000, 0)
    assert shed is not None
    assert shed.entry.base_bp == 5_000
    assert [e.base_bp for e in inbox.entries] == [9_000, 6_000]


# --- no starvation ---------------------------------------------------------------------------


step = st.tuples(
    st.integers(min_value=0, max_value=3_000_000),  # time passing before the step
    st.sampled_from(["push", "push", "pop"]),
    bps,
)


@settings(max_examples=150, deadline=None)
@given(
    before=st.lists(step, max_size=30),
    after=st.lists(step, max_size=60),
    base=bps,
    aging=st.integers(min_value=1, max_value=2_000),
)
def test_nothing_arriving_after_the_overtaking_window_is_served_first(
    before: list[tuple[int, str, int]], after: list[tuple[int, str, int]], base: int, aging: int
) -> None:
    weights = PriorityWeights(aging_bp_per_minute=aging)
    inbox = Inbox(capacity=100_000, weights=weights)
    now = 0
    served: list[InboxEntry] = []

    def run(steps: list[tuple[int, str, int]]) -> None:
        nonlocal now
        for dt, kind, b in steps:
            now += dt
            if kind == "push":
                push_new(inbox, b, now)
            elif len(inbox):
                served.append(inbox.pop())

    run(before)
    me, _ = push_new(inbox, base, now)
    run(after)
    served.extend(pop_all(inbox))

    window = overtaking_window_ms(base, weights)
    position = {e.seq: i for i, e in enumerate(served)}
    late = [e for e in served if e.arrived_ms > me.arrived_ms + window]
    assert all(position[e.seq] > position[me.seq] for e in late)


def test_a_zero_priority_item_is_served_within_the_bound_in_a_stream_of_point_seven_nine() -> None:
    weights = PriorityWeights()
    inbox = Inbox(capacity=100_000)
    interval = 3_000  # one arrival and one service every three seconds: the queue never drains
    backlog = 20
    now = 0
    for _ in range(backlog):
        push_new(inbox, 7_900, now)
        now += interval
    me, _ = push_new(inbox, 0, now)
    arrived = now
    window = overtaking_window_ms(0, weights)
    ahead_of_me = 0
    served_at = None
    while now <= arrived + 2 * window:
        now += interval
        push_new(inbox, 7_900, now)
        head = inbox.pop()
        if head == me:
            served_at = now
            break
        assert head.base_bp == 7_900
        ahead_of_me += 1

    assert served_at is not None, "starved"
    # Only what was queued before it and what arrived within the window went first ...
    arrived_in_window = window // interval
    assert ahead_of_me <= backlog + arrived_in_window
    # ... so it was served within the window plus the time to serve the backlog.
    assert served_at - arrived <= window + (backlog + 1) * interval
    # It overtook the 0.79 stream once its aging made up the 0.79: after 79 minutes, not before.
    assert served_at - arrived >= 79 * 60_000


# --- held items ------------------------------------------------------------------------------


def test_held_items_wait_aside_until_all_their_dependencies_are_satisfied() -> None:
    inbox = Inbox()
    on_a = inbox.new_entry(item("on-a", waits_for=waits_for("a")), 5_000, 0)
    on_ab = inbox.new_entry(item("on-ab", waits_for=waits_for("a", "b")), 6_000, 0)
    on_c = inbox.new_entry(item("on-c", waits_for=waits_for("c")), 7_000, 0)
    for held in (on_a, on_ab, on_c):
        assert inbox.hold(held) is None
    assert len(inbox) == 0
    assert inbox.peek() is None
    assert inbox.contains("on-ab")

    assert inbox.release_ready(set()) == []
    assert len(inbox) == 0

    assert inbox.release_ready(set(waits_for("a", "unrelated"))) == []
    assert [e.item.item_id for e in inbox.entries] == ["on-a"]
    assert [e.item.item_id for e in inbox.held] == ["on-ab", "on-c"]

    inbox.release_ready(set(waits_for("a", "b")))
    assert [e.item.item_id for e in inbox.entries] == ["on-ab", "on-a"]
    assert [e.item.item_id for e in inbox.held] == ["on-c"]

    inbox.release_ready(set(waits_for("a", "b", "c")))
    assert [e.item.item_id for e in inbox.entries] == ["on-c", "on-ab", "on-a"]
    assert inbox.held == []


def test_a_dependency_is_on_one_persona_task_not_on_a_task_key() -> None:
    inbox = Inbox()
    waiting = inbox.new_entry(item("w", waits_for=waits_for("a")), 5_000, 0)
    inbox.hold(waiting)
    same_key_other_persona = Dependency(persona_id="someone-else", task_key="a")
    assert inbox.release_ready({same_key_other_persona}) == []
    assert inbox.held == [waiting]
    inbox.release_ready(set(waits_for("a")))
    assert inbox.entries == [waiting]


def test_released_items_can_be_shed_and_are_handed_back() -> None:
    inbox = Inbox(capacity=1)
    push_new(inbox, 9_000, 0)
    waiting = inbox.new_entry(item("waiting", waits_for=waits_for("a")), 1_000, 0)
    inbox.hold(waiting)
    sheds = inbox.release_ready(set(waits_for("a")))
    assert [s.entry for s in sheds] == [waiting]
    assert inbox.held == []
    assert [e.base_bp for e in inbox.entries] == [9_000]


def test_holding_more_than_capacity_sheds_the_oldest_held() -> None:
    inbox = Inbox(capacity=2)
    held = [inbox.new_entry(item(f"h{i}", waits_for=waits_for("a")), 5_000, i) for i in range(3)]
    assert inbox.hold(held[0]) is None
    assert inbox.hold(held[1]) is None
    shed = inbox.hold(held[2])
    assert shed is not None
    assert shed.entry == held[0]
    assert shed.reason == "held_overflow"
    assert inbox.held == held[1:]


def test_drain_returns_queued_and_held() -> None:
    inbox = Inbox()
    queued, _ = push_new(inbox, 100, 0)
    held = inbox.new_entry(item("h", waits_for=waits_for("a")), 100, 0)
    inbox.hold(held)
    assert inbox.drain() == [queued, held]
    assert len(inbox) == 0
    assert inbox.held == []
    assert not inbox.contains("h")


# --- the derived index -----------------------------------------------------------------------


def scanned(inbox: Inbox) -> tuple[set[str], int]:
    """The ids and bytes of an inbox found by walking it (the index's reference)."""
    everything = [*inbox.entries, *inbox.held]
    return {e.item.item_id for e in everything}, sum(e.size for e in everything)


OPS = st.lists(
    st.tuples(
        st.sampled_from(["push", "hold", "pop", "release", "trim", "drain"]),
        bps,
        st.text(alphabet="xyz", min_size=1, max_size=60),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(capacity=st.integers(1, 6), ops=OPS)
def test_the_id_and_byte_index_always_matches_a_walk_of_the_inbox(
    capacity: int, ops: list[tuple[str, int, str]]
) -> None:
    inbox = Inbox(capacity=capacity, max_bytes=ITEM_MAX_BYTES)
    satisfied: set[Dependency] = set()
    for n, (op, base_bp, text) in enumerate(ops):
        if op == "push":
            push_new(inbox, base_bp, n, content_ref=text)
        elif op == "hold":
            held = inbox.new_entry(
                item(f"h{n}", content_ref=text, waits_for=waits_for(f"t{n}")), 0, n
            )
            inbox.hold(held)
            satisfied.add(held.item.waits_for[0])
        elif op == "pop" and len(inbox):
            inbox.pop()
        elif op == "release":
            inbox.release_ready(satisfied)
        elif op == "trim":
            inbox.trim()
        elif op == "drain":
            inbox.drain()
        ids, size = scanned(inbox)
        assert inbox.size() == size
        assert all(inbox.contains(i) for i in ids)
        assert not inbox.contains(f"i{n + 1000}")
        gone = {f"i{k}" for k in range(n + 1)} | {f"h{k}" for k in range(n + 1)}
        assert not any(inbox.contains(i) for i in gone - ids)


def test_a_decoded_inbox_rebuilds_its_index() -> None:
    inbox = Inbox(capacity=5)
    push_new(inbox, 5_000, 1, content_ref="hello")
    inbox.hold(inbox.new_entry(item("held", waits_for=waits_for("a")), 0, 2))
    decoded = Inbox.model_validate_json(inbox.model_dump_json())
    assert decoded.contains("i0")
    assert decoded.contains("held")
    assert decoded.size() == inbox.size() == scanned(inbox)[1]
    assert "_ids" not in inbox.model_dump_json()
