"""Room coordination: who gets the floor, credits so nobody is silenced, and Jain's index."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personas.coordination import Bid, FloorPolicy, grant_floor, jain_index, overdue_after


def bid(message: str, persona: str, score: int) -> Bid:
    return Bid(message_id=message, persona_id=persona, score_bp=score)


def run_room(
    scores: dict[str, int], messages: int, policy: FloorPolicy, prefix: str = "msg"
) -> tuple[list[list[str]], dict[str, int]]:
    """Every persona bids on every message; returns the grants per message and final credits."""
    credits: dict[str, int] = {}
    history: list[list[str]] = []
    for m in range(messages):
        bids = [bid(f"{prefix}-{m}", p, s) for p, s in scores.items()]
        granted, credits = grant_floor(bids, credits, policy)
        history.append(granted)
    return history, credits


def longest_wait(history: list[list[str]], persona: str) -> int:
    """The most consecutive messages (counting the granted one) up to each grant, or to the end."""
    longest, since = 0, 0
    for granted in history:
        since += 1
        if persona in granted:
            longest = max(longest, since)
            since = 0
    return max(longest, since)


# --- grants ----------------------------------------------------------------------------------


def test_the_highest_scores_get_the_floor() -> None:
    bids = [bid("m", "a", 3_000), bid("m", "b", 9_000), bid("m", "c", 6_000), bid("m", "d", 100)]
    granted, credits = grant_floor(bids, {}, FloorPolicy(responders=2))
    assert granted == ["b", "c"]
    assert credits == {"a": 1, "b": 0, "c": 0, "d": 1}


def test_credits_reset_on_a_grant_grow_on_a_loss_and_are_kept_for_absentees() -> None:
    policy = FloorPolicy(responders=1, credit_bp=1_000)
    bids = [bid("m", "a", 5_000), bid("m", "b", 4_500)]
    granted, credits = grant_floor(bids, {"a": 0, "b": 2, "c": 7}, policy)
    # b's two lost bids are worth 2,000 bp: 6,500 beats a's 5,000.
    assert granted == ["b"]
    assert credits == {"a": 1, "b": 0, "c": 7}


def test_fewer_bids_than_responders_grants_them_all() -> None:
    granted, _ = grant_floor([bid("m", "a", 1), bid("m", "b", 2)], {}, FloorPolicy(responders=5))
    assert sorted(granted) == ["a", "b"]
    assert grant_floor([], {"a": 3}, FloorPolicy()) == ([], {"a": 3})


@settings(max_examples=100, deadline=None)
@given(
    scores=st.dictionaries(
        st.integers(min_value=0, max_value=30).map(lambda i: f"p{i}"),
        st.integers(min_value=0, max_value=10_000),
        max_size=12,
    ),
    credits=st.dictionaries(
        st.integers(min_value=0, max_value=30).map(lambda i: f"p{i}"),
        st.integers(min_value=0, max_value=20),
        max_size=12,
    ),
    responders=st.integers(min_value=1, max_value=12),
    message=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,7}", fullmatch=True),
)
def test_grant_floor_grants_the_best_ranked_distinct_bidders(
    scores: dict[str, int], credits: dict[str, int], responders: int, message: str
) -> None:
    policy = FloorPolicy(responders=responders)
    bids = [bid(message, p, s) for p, s in scores.items()]
    granted, new_credits = grant_floor(bids, credits, policy)
    assert len(granted) == min(responders, len(bids))
    assert len(set(granted)) == len(granted)
    assert set(granted) <= set(scores)

    def worth(p: str) -> int:
        return scores[p] + credits.get(p, 0) * policy.credit_bp

    refused = set(scores) - set(granted)
    assert all(worth(g) >= worth(r) for g in granted for r in refused)
    for p in scores:
        assert new_credits[p] == (0 if p in granted else credits.get(p, 0) + 1)
    for p in set(credits) - set(scores):
        assert new_credits[p] == credits[p]
    assert grant_floor(bids, credits, policy) == (granted, new_credits)  # replay-deterministic


def test_ties_are_broken_differently_across_messages() -> None:
    wins: Counter[str] = Counter()
    for m in range(200):
        granted, _ = grant_floor(
            [bid(f"m{m}", "a", 5_000), bid(f"m{m}", "b", 5_000)], {}, FloorPolicy()
        )
        wins.update(granted)
    assert wins["a"] + wins["b"] == 200
    assert min(wins["a"], wins["b"]) >= 60


# --- nobody is silenced ----------------------------------------------------------------------


def check_equal_scores_share_the_floor(n: int, responders: int, score: int, prefix: str) -> None:
    policy = FloorPolicy(responders=responders)
    personas = [f"persona-{i}" for i in range(n)]
    history, _ = run_room(dict.fromkeys(personas, score), 30 * n, policy, prefix)

    assert all(len(granted) == responders for granted in history)
    counts = Counter(p for granted in history for p in granted)
    assert set(counts) == set(personas)  # nobody silenced
    assert jain_index([float(counts[p]) for p in personas]) >= 0.95
    # Everyone is granted at least once in every run of floor((n-1)/k)+1 messages.
    bound = (n - 1) // responders + 1
    assert all(longest_wait(history, p) <= bound for p in personas)


def test_equal_scores_share_the_floor_fairly_for_every_room_size() -> None:
    for n in range(2, 11):
        for responders in range(1, n):
            check_equal_scores_share_the_floor(n, responders, 5_000, "msg")


@settings(max_examples=50, deadline=None)
@given(
    data=st.data(),
    n=st.integers(min_value=2, max_value=10),
    score=st.integers(min_value=0, max_value=10_000),
    prefix=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,5}", fullmatch=True),
)
def test_equal_scores_share_the_floor_fairly_whatever_the_tiebreaks(
    data: st.DataObject, n: int, score: int, prefix: str
) -> None:
    responders = data.draw(st.integers(min_value=1, max_value=n - 1), label="responders")
    check_equal_scores_share_the_floor(n, responders, score, prefix)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(min_value=2, max_value=10))
def test_a_persona_scoring_slightly_lower_is_still_granted(data: st.DataObject, n: int) -> None:
    responders = data.draw(st.integers(min_value=1, max_value=n - 1), label="responders")
    gap = data.draw(st.integers(min_value=1, max_value=999), label="gap")
    policy = FloorPolicy(responders=responders, credit_bp=1_000)
    scores = {f"persona-{i}": 8_000 for i in range(n - 1)} | {"underdog": 8_000 - gap}
    messages = 20 * n
    history, _ = run_room(
        scores,
        messages,
        policy,
        data.draw(
            st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,5}", fullmatch=True), label="prefix"
        ),
    )

    bound = (n - 1) // responders + 1
    assert longest_wait(history, "underdog") <= bound
    counts = Counter(p for granted in history for p in granted)
    assert counts["underdog"] >= messages // bound


def test_without_credits_the_underdog_would_be_silenced() -> None:
    scores = {"a": 8_000, "b": 8_000, "underdog": 7_999}
    history, _ = run_room(scores, 50, FloorPolicy(responders=1, credit_bp=0))
    assert all(granted != ["underdog"] for granted in history)
    history, _ = run_room(scores, 50, FloorPolicy(responders=1))
    assert sum(granted == ["underdog"] for granted in history) >= 16


# --- Jain's index ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 7, 50])
def test_jain_index_extremes(n: int) -> None:
    assert jain_index([4.0] * n) == pytest.approx(1.0)
    assert jain_index([9.0] + [0.0] * (n - 1)) == pytest.approx(1 / n)


def test_jain_index_of_an_uneven_split() -> None:
    # (1+3)^2 / (2 * (1+9)) = 16/20
    assert jain_index([1.0, 3.0]) == pytest.approx(0.8)
    assert jain_index([]) == 1.0
    assert jain_index([0.0, 0.0]) == 1.0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.just(0.0) | st.floats(min_value=1e-3, max_value=1e6), min_size=1, max_size=30
    ).filter(any)
)
def test_jain_index_lies_between_one_over_n_and_one(service: list[float]) -> None:
    index = jain_index(service)
    assert 1 / len(service) - 1e-9 <= index <= 1 + 1e-9
    assert jain_index([s * 3.5 for s in service]) == pytest.approx(index)


# --- overdue members go first: the bound of 2 x members floors ---------------------------


def gaps(history: list[list[str]], persona: str) -> list[int]:
    """Floors from the start (or the persona's last grant) to each of its grants, and to the
    end when it is still waiting."""
    out, since = [], 0
    for granted in history:
        since += 1
        if persona in granted:
            out.append(since)
            since = 0
    return [*out, since] if since else out


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    n=st.integers(min_value=2, max_value=20),
    responders=st.integers(min_value=1, max_value=4),
)
def test_every_member_that_bids_is_granted_within_two_rounds_whatever_the_scores(
    data: st.DataObject, n: int, responders: int
) -> None:
    """Scores change on every floor, some members skip floors or bid late (credited); a
    member that bids on every floor waits at most 2 x members / responders floors."""
    responders = min(responders, n)
    policy = FloorPolicy(responders=responders)
    members = [f"m{i}" for i in range(n)]
    steady = data.draw(st.sampled_from(members), label="steady")
    overdue_at = overdue_after(n, responders)
    credits: dict[str, int] = {}
    history: list[list[str]] = []
    floors = data.draw(st.integers(min_value=2 * n, max_value=6 * n), label="floors")
    for f in range(floors):
        present = data.draw(st.lists(st.sampled_from(members), unique=True), label="present")
        late = data.draw(st.lists(st.sampled_from(members), unique=True), label="late")
        bidders = {steady, *present}
        scores = data.draw(
            st.lists(st.integers(0, 10_000), min_size=len(bidders), max_size=len(bidders)),
            label="scores",
        )
        bids = [bid(f"f{f}", p, s) for p, s in zip(sorted(bidders), scores, strict=True)]
        granted, credits = grant_floor(bids, credits, policy, overdue_at)
        for p in set(late) - bidders:  # a late bid earns a lost bid's credit
            credits[p] = credits.get(p, 0) + 1
        history.append(granted)
    bound = 2 * overdue_at
    assert all(gap <= bound for gap in gaps(history, steady)), (gaps(history, steady), bound)


def test_fourteen_members_back_to_back_share_the_floor_fairly() -> None:
    """The benchmark's room: one responder, 14 members, relevance differing per member."""
    members = {f"m{i}": 2_000 + 500 * i for i in range(14)}
    policy = FloorPolicy(responders=1)
    credits: dict[str, int] = {}
    history = []
    for f in range(10 * 14):
        bids = [bid(f"w{f}", p, s) for p, s in members.items()]
        granted, credits = grant_floor(bids, credits, policy, overdue_after(14, 1))
        history.append(granted)
    counts = Counter(p for g in history for p in g)
    assert jain_index([float(counts[p]) for p in members]) >= 0.95
    first = {p: next(i for i, g in enumerate(history) if p in g) + 1 for p in members}
    assert max(first.values()) <= 28
    assert all(gap <= 28 for p in members for gap in gaps(history, p))


def test_overdue_goes_first_most_credit_first() -> None:
    policy = FloorPolicy(responders=1)
    bids = [bid("m", "a", 10_000), bid("m", "b", 0), bid("m", "c", 0)]
    granted, _ = grant_floor(bids, {"b": 3, "c": 4}, policy, overdue_at=3)
    assert granted == ["c"]
    granted, _ = grant_floor(bids, {"b": 3, "c": 4}, policy)  # without the rule: relevance
    assert granted == ["a"]


def test_overdue_after_is_one_round() -> None:
    assert overdue_after(14, 1) == 14
    assert overdue_after(14, 3) == 5
    assert overdue_after(0, 1) == 1
