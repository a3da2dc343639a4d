"""The outbox's coalescing: bids owed a room go in as few signals as their bound allows."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from personas.coordination import Bid, BidBatch
from personas.life import DependencyDone, OutgoingSignal, coalesced
from personas.messages import BIDS, BIDS_MAX, DEPENDENCY_DONE


def _bid(room: str, n: int) -> OutgoingSignal:
    bid = Bid(message_id=f"m{n}", persona_id="p", score_bp=n % 10_000)
    return OutgoingSignal(target="room", target_id=room, signal=BIDS, payload=BidBatch(bids=[bid]))


def _done(n: int) -> OutgoingSignal:
    return OutgoingSignal(
        target="persona",
        target_id=f"q{n % 3}",
        signal=DEPENDENCY_DONE,
        payload=DependencyDone(task_key=f"t{n}", provider_id="p"),
    )


# Each owed signal: a bid to one of three rooms, or a persona's notice.
OWED = st.lists(
    st.one_of(st.sampled_from(["r0", "r1", "r2"]), st.none()), max_size=3 * BIDS_MAX + 7
).map(lambda kinds: [_done(n) if k is None else _bid(k, n) for n, k in enumerate(kinds)])


def _bids_to(signals: list[OutgoingSignal], room: str) -> list[Bid]:
    return [
        bid
        for s in signals
        if s.target == "room" and s.target_id == room and isinstance(s.payload, BidBatch)
        for bid in s.payload.bids
    ]


@given(OWED)
def test_every_bid_is_kept_in_order_in_as_few_bounded_signals(owed: list[OutgoingSignal]) -> None:
    merged = coalesced(owed)
    for room in ("r0", "r1", "r2"):
        assert _bids_to(merged, room) == _bids_to(owed, room)
        signals = [s for s in merged if s.target_id == room]
        assert len(signals) == math.ceil(len(_bids_to(owed, room)) / BIDS_MAX)
    assert all(len(s.payload.bids) <= BIDS_MAX for s in merged if isinstance(s.payload, BidBatch))
    assert [s for s in merged if s.target == "persona"] == [
        s for s in owed if s.target == "persona"
    ]


def test_a_burst_of_passes_to_one_room_is_one_signal() -> None:
    owed = [_bid("r0", n) for n in range(40)]
    merged = coalesced(owed)
    assert len(merged) == 1
    assert isinstance(merged[0].payload, BidBatch)
    assert [b.message_id for b in merged[0].payload.bids] == [f"m{n}" for n in range(40)]
