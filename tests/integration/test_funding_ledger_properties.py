"""Property tests of the ledger on both backends: it sums to zero and no balance is
negative, under any sequence and any thread interleaving of spends and top-ups."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from activities.funding.db import Database, FundingError
from activities.funding.ledger import entity_budget, persona_balance, persona_held, persona_spend
from activities.funding.service import Funding
from activities.funding.tables import Account
from activities.store import Store
from personas.funding.topup import TopUpPolicy

_run = itertools.count()

amounts = st.integers(min_value=1, max_value=5_000)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.integers(0, 1), amounts),
        st.tuples(st.just("top_up"), st.integers(0, 1), amounts),
        st.tuples(st.just("hold"), st.integers(0, 1), amounts),
        st.tuples(st.just("settle"), st.integers(0, 7), amounts),
        st.tuples(st.just("release"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("contribute"), st.integers(0, 1), amounts),
    ),
    min_size=1,
    max_size=24,
)


@pytest.fixture
def funding(store: Store) -> Iterator[Funding]:
    """Funding on the migrated store."""
    db = Database(store.url)
    yield Funding(db)
    db.dispose()


def _apply(f: Funding, run: int, personas: list[str], i: int, op: tuple[str, int, int]) -> None:
    name, which, amount = op
    p = personas[which % len(personas)]
    key = f"{run}-{i}"
    try:
        if name == "deposit":
            f.deposit(key, entity_budget(f"e{run}"), amount)
        elif name == "top_up":
            policy = TopUpPolicy(threshold=amount, target=amount)
            f.top_up(key, p, policy, funding_limit=10_000)
        elif name == "hold":
            f.ledger.hold(f"{run}-h{i % 8}", p, amount, timedelta(minutes=1))
        elif name == "settle":
            f.ledger.settle(f"{run}-h{which}", amount)
        elif name == "release":
            f.ledger.release(f"{run}-h{which}")
        else:
            f.contribute(key, f"s{run}", p, amount, "user")
    except FundingError:
        pass  # a refusal posts nothing; the invariants below still hold


def _check(f: Funding, run: int, personas: list[str]) -> None:
    assert f.ledger.total() == 0
    with f.db.tx() as s:
        lowest = s.execute(
            select(func.min(Account.balance)).where(Account.may_go_negative.is_(False))
        ).scalar()
    assert lowest is None or lowest >= 0
    assert f.ledger.entries_match_balances()
    for p in personas:
        owned = sum(f.ledger.balance(a(p)) for a in (persona_balance, persona_held, persona_spend))
        assert owned >= 0


def _seeded(funding: Funding) -> tuple[int, list[str]]:
    """A fresh run: two personas of a new entity and a funded source."""
    run = next(_run)
    personas = [f"p{run}a", f"p{run}b"]
    for p in personas:
        funding.setup_persona(f"e{run}", p)
    src = funding.add_source(f"e{run}", f"s{run}", 1)
    funding.deposit(f"{run}-seed", src, 3_000)
    return run, personas


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=ops)
def test_sequential_operations_keep_the_invariants(
    funding: Funding, operations: list[tuple[str, int, int]]
) -> None:
    run, personas = _seeded(funding)
    for i, op in enumerate(operations):
        _apply(funding, run, personas, i, op)
        _check(funding, run, personas)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=ops)
def test_concurrent_operations_keep_the_invariants(
    funding: Funding, operations: list[tuple[str, int, int]]
) -> None:
    run, personas = _seeded(funding)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda io: _apply(funding, run, personas, *io), enumerate(operations)))
    _check(funding, run, personas)
