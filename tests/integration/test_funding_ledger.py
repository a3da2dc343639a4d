"""The ledger on SQLite and PostgreSQL: balanced idempotent postings, holds, concurrency."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from activities.funding.audit_log import AuditLog
from activities.funding.db import Database
from activities.funding.ledger import (
    WORLD,
    IdempotencyConflict,
    InsufficientFunds,
    UnbalancedPosting,
    UnknownAccount,
    UnknownHold,
    entity_budget,
    persona_balance,
    persona_held,
    persona_spend,
)
from activities.funding.metering import Usage
from activities.funding.service import ContributionRefused, Funding, TopUpRefused
from activities.store import Store
from personas.funding.topup import TopUpPolicy
from tests.helpers import race

T = TypeVar("T")
T0 = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def funding(store: Store) -> Iterator[Funding]:
    """Funding on the migrated store, with entity e1, persona p1 and 100 units budget."""
    db = Database(store.url)
    f = Funding(db)
    f.setup_persona("e1", "p1")
    f.deposit("seed", entity_budget("e1"), 100_000_000)
    yield f
    db.dispose()


def _concurrently(fn: Callable[[int], T], n: int = 8) -> list[T | BaseException]:
    return race(fn, n, barrier_timeout_s=30)


def test_posting_is_balanced_and_idempotent(funding: Funding) -> None:
    legs = [(entity_budget("e1"), -5_000_000), (persona_balance("p1"), 5_000_000)]
    first = funding.ledger.post("k1", legs)
    again = funding.ledger.post("k1", legs)
    assert first.created
    assert not again.created
    assert again.tx_id == first.tx_id
    assert funding.ledger.balance(persona_balance("p1")) == 5_000_000
    assert funding.ledger.balance(entity_budget("e1")) == 95_000_000
    assert funding.ledger.total() == 0
    assert funding.ledger.entries_match_balances()


def test_key_reused_for_another_posting_is_refused(funding: Funding) -> None:
    funding.ledger.post("k1", [(entity_budget("e1"), -1), (persona_balance("p1"), 1)])
    with pytest.raises(IdempotencyConflict, match="k1"):
        funding.ledger.post("k1", [(entity_budget("e1"), -2), (persona_balance("p1"), 2)])
    assert funding.ledger.balance(persona_balance("p1")) == 1


BAD_POSTINGS: list[tuple[list[tuple[str, Any]], type[Exception], str]] = [
    ([("entity:e1:budget", -1), ("persona:p1:balance", 2)], UnbalancedPosting, "sum"),
    ([("entity:e1:budget", 0)], UnbalancedPosting, "non-zero"),
    ([("entity:e1:budget", -1.5), ("persona:p1:balance", 1.5)], UnbalancedPosting, "whole"),
    ([("entity:e1:budget", -1), ("nowhere", 1)], UnknownAccount, "nowhere"),
    (
        [("entity:e1:budget", -200_000_000), ("persona:p1:balance", 200_000_000)],
        InsufficientFunds,
        "entity:e1:budget",
    ),
]


def test_bad_postings_post_nothing(funding: Funding) -> None:
    for legs, error, message in BAD_POSTINGS:
        before = funding.ledger.count_postings()
        with pytest.raises(error, match=message):
            funding.ledger.post("bad", legs)
        assert funding.ledger.count_postings() == before
        assert funding.ledger.posting("bad") is None
        assert funding.ledger.balance(entity_budget("e1")) == 100_000_000


def test_hold_settle_release(funding: Funding) -> None:
    funding.deposit("d", persona_balance("p1"), 10_000)
    hold = funding.ledger.hold("h1", "p1", 4_000, timedelta(minutes=5), T0)
    assert funding.ledger.balance(persona_balance("p1")) == 6_000
    assert funding.ledger.balance(persona_held("p1")) == 4_000
    settled = funding.ledger.settle("h1", 1_500)
    assert settled.status == "settled"
    assert settled.charged == 1_500
    assert funding.ledger.settle("h1", 3_000) == settled  # once
    assert funding.ledger.release("h1").status == "settled"
    assert funding.ledger.balance(persona_balance("p1")) == 8_500
    assert funding.ledger.balance(persona_spend("p1")) == 1_500
    assert funding.ledger.balance(persona_held("p1")) == 0
    assert hold.amount == 4_000
    funding.ledger.hold("h2", "p1", 8_000, timedelta(minutes=5), T0)
    assert funding.ledger.release("h2").status == "released"
    assert funding.ledger.balance(persona_balance("p1")) == 8_500
    with pytest.raises(InsufficientFunds):
        funding.ledger.hold("h3", "p1", 9_000, timedelta(minutes=5), T0)
    with pytest.raises(UnknownHold):
        funding.ledger.settle("h3", 1)
    assert funding.ledger.total() == 0


def test_settle_never_charges_more_than_the_hold(funding: Funding) -> None:
    funding.deposit("d", persona_balance("p1"), 10_000)
    funding.ledger.hold("h1", "p1", 1_000, timedelta(minutes=5), T0)
    assert funding.ledger.settle("h1", 5_000).charged == 1_000
    assert funding.ledger.balance(persona_balance("p1")) == 9_000


def test_expired_holds_are_released(funding: Funding) -> None:
    funding.deposit("d", persona_balance("p1"), 10_000)
    funding.ledger.hold("h1", "p1", 1_000, timedelta(minutes=5), T0)
    funding.ledger.hold("h2", "p1", 1_000, timedelta(hours=5), T0)
    assert funding.ledger.release_expired(T0 + timedelta(minutes=6)) == 1
    assert funding.ledger.get_hold("h1").status == "released"
    assert funding.ledger.get_hold("h2").status == "open"
    assert funding.ledger.balance(persona_balance("p1")) == 9_000


def test_concurrent_holds_never_overspend(funding: Funding) -> None:
    funding.deposit("d", persona_balance("p1"), 5_000)
    results = _concurrently(
        lambda i: funding.ledger.hold(f"h{i}", "p1", 1_000, timedelta(minutes=5), T0)
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(ok) == 5
    assert len(refused) == 3
    assert funding.ledger.balance(persona_balance("p1")) == 0
    assert funding.ledger.total() == 0


def test_concurrent_same_key_posts_once(funding: Funding) -> None:
    legs = [(entity_budget("e1"), -1_000), (persona_balance("p1"), 1_000)]
    results = _concurrently(lambda i: funding.ledger.post("same", legs))
    assert all(not isinstance(r, BaseException) for r in results)
    assert sum(1 for r in results if not isinstance(r, BaseException) and r.created) == 1
    assert funding.ledger.balance(persona_balance("p1")) == 1_000
    assert funding.ledger.count_postings("same") == 1


def test_concurrent_settle_and_release_close_once(funding: Funding) -> None:
    funding.deposit("d", persona_balance("p1"), 10_000)
    funding.ledger.hold("h", "p1", 2_000, timedelta(minutes=5), T0)
    _concurrently(
        lambda i: funding.ledger.settle("h", 500) if i % 2 else funding.ledger.release("h")
    )
    assert (
        funding.ledger.count_postings("settled:h") + funding.ledger.count_postings("released:h")
        == 1
    )
    assert funding.ledger.balance(persona_held("p1")) == 0
    assert funding.ledger.total() == 0


def test_top_up_order_and_limit(funding: Funding) -> None:
    src_a = funding.add_source("e1", "card", 1)
    src_b = funding.add_source("e1", "ads", 2)
    funding.deposit("da", src_a, 3_000_000)
    funding.deposit("db", src_b, 50_000_000)
    funding.ledger.post("drain", [(entity_budget("e1"), -98_000_000), (WORLD, 98_000_000)])
    policy = TopUpPolicy(threshold=1_000_000, target=10_000_000)
    result = funding.top_up("t1", "p1", policy, funding_limit=8_000_000)
    assert [(d.account_id, d.amount) for d in result.plan.draws] == [
        (entity_budget("e1"), 2_000_000),
        (src_a, 3_000_000),
        (src_b, 3_000_000),
    ]
    assert result.balance == 8_000_000 == funding.ledger.balance(persona_balance("p1"))
    again = funding.top_up("t1", "p1", policy, funding_limit=8_000_000)
    assert again.posting is not None
    assert not again.posting.created
    assert funding.ledger.balance(persona_balance("p1")) == 8_000_000
    assert funding.top_up("t2", "p1", policy, 8_000_000).posting is None  # above threshold


def test_manual_top_up_beyond_limit_is_refused(funding: Funding) -> None:
    with pytest.raises(TopUpRefused, match="funding limit"):
        funding.manual_top_up("m1", "p1", entity_budget("e1"), 6_000_000, 5_000_000)
    assert funding.ledger.posting("m1") is None
    funding.manual_top_up("m2", "p1", entity_budget("e1"), 5_000_000, 5_000_000)
    assert funding.ledger.balance(persona_balance("p1")) == 5_000_000


def test_contribution_to_a_persona_of_another_entity_is_refused(funding: Funding) -> None:
    funding.setup_persona("e2", "p2")
    src = funding.add_source("e1", "gift", 1)
    funding.deposit("d", src, 1_000)
    with pytest.raises(ContributionRefused, match="entity e1"):
        funding.contribute("c1", "gift", "p2", 500, "alice")
    assert funding.ledger.posting("c1") is None
    funding.contribute("c2", "gift", "p1", 500, "alice")
    assert funding.ledger.balance(persona_balance("p1")) == 500
    with pytest.raises(UnknownAccount):
        funding.contribute("c3", "nope", "p1", 500, "alice")


def test_metered_usage_is_linked_to_its_posting(funding: Funding) -> None:
    funding.deposit("d", persona_balance("p1"), 10_000_000)
    hold = funding.reserve("call-1", "p1", "m", 1_000, 2_000, timedelta(minutes=5), T0)
    usage = Usage(
        event_key="call-1",
        persona_id="p1",
        entity_id="e1",
        activity="think",
        kind="model_call",
        model="m",
        tokens_in=1_000,
        tokens_out=500,
    )
    settled, [record] = funding.settle_usage("call-1", usage, now=T0)
    assert record.price == 500 + 750 == settled.charged < hold.amount
    assert record.tx_id == funding.ledger.posting("settled:call-1").tx_id  # type: ignore[union-attr]
    funding.meter.record(
        Usage(
            event_key="s1", persona_id="p1", entity_id="e1", activity="store",
            kind="storage", quantity=3,
        ),
        None,
        T0 + timedelta(days=40),
    )  # fmt: skip
    assert funding.meter.total(persona_id="p1") == 1_250 + 300
    assert funding.meter.total(entity_id="e1", until=T0 + timedelta(days=1)) == 1_250
    assert [u.event_key for u in funding.meter.usage(since=T0 + timedelta(days=30))] == ["s1"]
    assert funding.meter.usage(persona_id="p2") == []


def test_compute_is_held_and_metered_with_its_model_call(funding: Funding) -> None:
    funding.deposit("d", persona_balance("p1"), 10_000_000)
    hold = funding.reserve("c-1", "p1", "m", 1_000, 2_000, timedelta(minutes=5), T0, 60_000)
    assert hold.amount == 500 + 3_000 + 60_000 * 50 // 1000  # the most tokens, 60 s at most
    who = {"persona_id": "p1", "entity_id": "e1", "activity": "think"}
    call = Usage(event_key="c-1", kind="model_call", model="m", tokens_in=1_000, tokens_out=500,
                 **who)  # fmt: skip
    compute = Usage(event_key="c-1:compute", kind="compute", quantity=1_234, **who)
    settled, records = funding.settle_usage("c-1", call, compute, now=T0)
    assert [r.price for r in records] == [1_250, 62]  # 1.234 s at 50 per s, rounded up
    assert settled.charged == 1_312
    assert {r.tx_id for r in records} == {funding.ledger.posting("settled:c-1").tx_id}  # type: ignore[union-attr]
    again, _ = funding.settle_usage("c-1", call, compute, now=T0)  # a retried settle
    assert again.charged == 1_312
    assert len(funding.meter.usage(persona_id="p1")) == 2


def test_storage_is_charged_once_per_period_and_never_below_zero(funding: Funding) -> None:
    funding.deposit("d", persona_balance("p1"), 250)
    first = funding.charge_storage("store-1", "p1", 2, T0)
    assert (first.kind, first.quantity, first.price) == ("storage", 2, 200)
    assert funding.charge_storage("store-1", "p1", 2, T0) == first  # retried: charged once
    assert funding.ledger.balance(persona_balance("p1")) == 50
    short = funding.charge_storage("store-2", "p1", 3, T0)
    assert short.price == 300  # the metered price; the posting takes what the balance holds
    assert funding.ledger.balance(persona_balance("p1")) == 0
    assert funding.ledger.balance(persona_spend("p1")) == 250
    empty = funding.charge_storage("store-3", "p1", 1, T0)
    assert empty.tx_id is None  # nothing left to take: recorded, not posted
    assert funding.ledger.total() == 0


def test_every_posting_is_audited_and_the_chain_verifies(funding: Funding) -> None:
    funding.deposit("d", persona_balance("p1"), 1_000)
    log = AuditLog(funding.db)
    entries = log.entries()
    assert [e.kind for e in entries] == ["funding.deposit", "funding.deposit"]
    assert log.verify() == (True, "2 entries in 2 chain(s), intact")


def test_concurrent_attempts_of_one_top_up_post_once(funding: Funding) -> None:
    policy = TopUpPolicy(threshold=1_000_000, target=4_000_000)
    results = _concurrently(lambda i: funding.top_up("cycle-1", "p1", policy, 5_000_000))
    postings = {r.posting.tx_id for r in results if not isinstance(r, BaseException) and r.posting}
    assert len(postings) == 1
    assert all(not isinstance(r, BaseException) for r in results)
    assert funding.ledger.count_postings("cycle-1") == 1
    assert funding.ledger.balance(persona_balance("p1")) == 4_000_000


def test_concurrent_postings_and_refusals_keep_every_chain_intact(funding: Funding) -> None:
    """Postings from many threads into the same streams, some refused by a leg's guard and
    some replayed: each accepted posting is in its persona's chain exactly once, a refused
    one left no entry, and every chain verifies."""
    for p in ("p1", "p2"):
        funding.setup_persona("e1", p)
        funding.deposit(f"d-{p}", persona_balance(p), 20)
    log = AuditLog(funding.db)
    before = len(log.entries())

    def spend(i: int) -> bool:
        p = f"p{1 + i % 2}"
        try:
            funding.ledger.post(
                f"spend-{i % 60}",  # keys repeat: every key from 60 on is a replay
                [(persona_balance(p), -1), (persona_spend(p), 1)],
                persona_id=p,
                entity_id="e1",
            )
        except InsufficientFunds:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(spend, range(240)))
    accepted = {i % 60 for i, ok in enumerate(outcomes) if ok}
    assert len(accepted) == 40  # 30 keys a persona, 20 of them within its balance
    assert funding.ledger.count_postings("spend-") == 40
    spends = [e for e in log.entries()[before:] if e.kind == "funding.transfer"]
    assert sorted(e.data["key"] for e in spends) == sorted(f"spend-{i}" for i in accepted)
    assert log.verify()[0]
    assert funding.ledger.total() == 0
    assert funding.ledger.entries_match_balances()


def test_a_refused_posting_leaves_the_chain_alone(funding: Funding) -> None:
    funding.setup_persona("e1", "p1")
    funding.deposit("d", persona_balance("p1"), 5)
    log = AuditLog(funding.db)
    head = log.entries(persona_id="p1")
    with pytest.raises(InsufficientFunds):
        funding.ledger.post(
            "too-much", [(persona_balance("p1"), -6), (persona_spend("p1"), 6)], persona_id="p1"
        )
    assert log.entries(persona_id="p1") == head
    funding.ledger.post(
        "enough", [(persona_balance("p1"), -5), (persona_spend("p1"), 5)], persona_id="p1"
    )
    assert [e.data["key"] for e in log.entries(persona_id="p1")][-1] == "enough"
    assert log.verify()[0]
