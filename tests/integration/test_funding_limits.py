"""Limits enforced atomically, on SQLite and PostgreSQL: 50 concurrent attempts against a
limit that admits 10, for every path that credits a persona or draws on a balance."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from activities.funding.audit_log import AuditLog
from activities.funding.db import Database, FundingError
from activities.funding.ledger import (
    InsufficientFunds,
    LimitExceeded,
    entity_budget,
    persona_balance,
)
from activities.funding.service import ContributionRefused, Funding, TopUpRefused
from activities.funding.tables import Entry, LedgerTransaction
from activities.store import Store
from personas.funding.money import MICROS
from personas.funding.topup import TopUpPolicy
from tests.helpers import race

T = TypeVar("T")
ATTEMPTS = 50
ADMITTED = 10
LIMIT = ADMITTED * MICROS  # the funding limit admits ten credits of one unit


@pytest.fixture
def funding(store: Store) -> Iterator[Funding]:
    """Entity e1 with 100 units of budget and a source ``gift`` of 100 units; persona p1."""
    db = Database(store.url)
    f = Funding(db)
    f.setup_persona("e1", "p1")
    f.deposit("seed", entity_budget("e1"), 100 * MICROS)
    f.deposit("seed-gift", f.add_source("e1", "gift", 1), 100 * MICROS)
    yield f
    db.dispose()


def _race(fn: Callable[[int], T], n: int = ATTEMPTS) -> list[T | BaseException]:
    """``fn(0) .. fn(n - 1)`` on ``n`` threads released together; exceptions returned."""
    return race(fn, n, barrier_timeout_s=60)


def _succeeded(results: list[T | BaseException]) -> list[T]:
    return [r for r in results if not isinstance(r, BaseException)]


def _consistent(f: Funding) -> None:
    assert f.ledger.total() == 0
    assert f.ledger.entries_match_balances()
    assert AuditLog(f.db).verify()[0]


def test_concurrent_manual_top_ups_stop_at_the_limit(funding: Funding) -> None:
    results = _race(
        lambda i: funding.manual_top_up(f"m{i}", "p1", entity_budget("e1"), MICROS, LIMIT)
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(_succeeded(results)) == ADMITTED
    assert len(refused) == ATTEMPTS - ADMITTED
    assert all(isinstance(r, TopUpRefused) for r in refused), refused
    assert "beyond the funding limit of 10.000000" in str(refused[0])
    assert funding.ledger.balance(persona_balance("p1")) == LIMIT
    assert funding.ledger.count_postings("m") == ADMITTED
    _consistent(funding)


def test_concurrent_contributions_stop_at_the_limit(funding: Funding) -> None:
    results = _race(lambda i: funding.contribute(f"c{i}", "gift", "p1", MICROS, "user", LIMIT))
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(_succeeded(results)) == ADMITTED
    assert all(isinstance(r, ContributionRefused) for r in refused), refused
    assert len(refused) == ATTEMPTS - ADMITTED
    assert "beyond its funding limit of 10.000000" in str(refused[0])
    assert funding.ledger.balance(persona_balance("p1")) == LIMIT
    _consistent(funding)


def test_concurrent_cycle_top_ups_of_one_persona_stop_at_the_limit(funding: Funding) -> None:
    policy = TopUpPolicy(threshold=100 * MICROS, target=100 * MICROS)  # wants beyond the limit
    results = _race(lambda i: funding.top_up(f"cycle-{i}", "p1", policy, LIMIT))
    done = _succeeded(results)
    assert len(done) == ATTEMPTS  # none fails: the ones after the first find nothing to do
    posted = [r for r in done if r.posting is not None and r.posting.created]
    assert len(posted) == 1
    assert posted[0].plan.total == LIMIT  # all the limit admits, in one posting
    assert funding.ledger.balance(persona_balance("p1")) == LIMIT
    _consistent(funding)


def test_concurrent_cycle_top_ups_share_a_budget_that_admits_ten(funding: Funding) -> None:
    funding.setup_persona("e2", "x")
    funding.deposit("seed-e2", entity_budget("e2"), ADMITTED * MICROS)
    for i in range(ATTEMPTS):
        funding.setup_persona("e2", f"q{i}")
    policy = TopUpPolicy(threshold=MICROS, target=MICROS)
    results = _race(lambda i: funding.top_up(f"cycle-q{i}", f"q{i}", policy, LIMIT))
    done = _succeeded(results)
    assert len(done) == ATTEMPTS
    funded = [r for r in done if r.posting is not None]
    assert len(funded) == ADMITTED
    assert all(r.plan.shortfall == MICROS for r in done if r.posting is None)
    assert funding.ledger.balance(entity_budget("e2")) == 0
    _consistent(funding)


def test_concurrent_holds_stop_at_the_balance(funding: Funding) -> None:
    funding.deposit("d", persona_balance("p1"), ADMITTED * MICROS)
    results = _race(lambda i: funding.ledger.hold(f"h{i}", "p1", MICROS, timedelta(minutes=5)))
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(_succeeded(results)) == ADMITTED
    assert all(isinstance(r, InsufficientFunds) for r in refused), refused
    assert funding.ledger.balance(persona_balance("p1")) == 0
    _consistent(funding)


def test_mixed_concurrent_credits_never_exceed_the_limit(funding: Funding) -> None:
    policy = TopUpPolicy(threshold=LIMIT, target=LIMIT)

    def attempt(i: int) -> object:
        if i % 3 == 0:
            return funding.top_up(f"cycle-{i}", "p1", policy, LIMIT)
        if i % 3 == 1:
            return funding.manual_top_up(f"m{i}", "p1", entity_budget("e1"), MICROS, LIMIT)
        return funding.contribute(f"c{i}", "gift", "p1", MICROS, "user", LIMIT)

    results = _race(attempt)
    assert all(not isinstance(r, BaseException) or isinstance(r, FundingError) for r in results)
    assert funding.ledger.balance(persona_balance("p1")) == LIMIT
    _consistent(funding)


def test_a_credit_beyond_its_limit_rolls_the_whole_posting_back(funding: Funding) -> None:
    audit_before = len(AuditLog(funding.db).entries())
    legs = [(entity_budget("e1"), -11 * MICROS), (persona_balance("p1"), 11 * MICROS)]
    with pytest.raises(LimitExceeded, match=r"beyond its limit of 10\.000000") as refused:
        funding.ledger.post("over", legs, limits={persona_balance("p1"): LIMIT})
    assert (refused.value.balance, refused.value.amount) == (0, 11 * MICROS)
    assert funding.ledger.balance(entity_budget("e1")) == 100 * MICROS  # debited, rolled back
    assert funding.ledger.posting("over") is None
    with funding.db.tx() as s:
        assert s.execute(select(func.count()).select_from(LedgerTransaction)).scalar() == 2
        assert s.execute(select(func.count()).select_from(Entry)).scalar() == 4
    assert len(AuditLog(funding.db).entries()) == audit_before
    fill = [(entity_budget("e1"), -LIMIT), (persona_balance("p1"), LIMIT)]
    exact = funding.ledger.post("exact", fill, limits={persona_balance("p1"): LIMIT})
    assert exact.created
    again = funding.ledger.post("exact", fill, limits={persona_balance("p1"): LIMIT})
    assert again.tx_id == exact.tx_id  # a replay returns the posting, though at the limit now
    back = [(persona_balance("p1"), -MICROS), (entity_budget("e1"), MICROS)]
    debit = funding.ledger.post("back", back, limits={persona_balance("p1"): 0})
    assert debit.created  # a limit bounds credits only: taking money out is never refused
    _consistent(funding)
