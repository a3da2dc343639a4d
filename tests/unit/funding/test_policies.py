"""Top-up planning, hold sizing, metrics, ad choice and the audit chain."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from personas.funding.ads import Ad, OptOutPolicy, choose_ad, revenue_share
from personas.funding.audit import GENESIS, AuditEntry, entry_hash, verify_chain
from personas.funding.metrics import PerformanceOutcome, performance
from personas.funding.pricing import ModelPrice, PriceTable, hold_size, megabyte_days
from personas.funding.topup import TopUpPolicy, plan_top_up

funds = st.lists(st.integers(min_value=0, max_value=10_000), max_size=5)


@given(
    balance=st.integers(0, 10_000),
    threshold=st.integers(0, 10_000),
    target=st.integers(0, 10_000),
    limit=st.integers(0, 10_000),
    available=funds,
)
def test_top_up_stays_within_the_limit_and_drains_in_order(
    balance: int, threshold: int, target: int, limit: int, available: list[int]
) -> None:
    accounts = [(f"a{i}", f) for i, f in enumerate(available)]
    plan = plan_top_up(balance, TopUpPolicy(threshold=threshold, target=target), limit, accounts)
    if plan.draws:
        assert balance < threshold
        assert balance + plan.total <= min(target, limit)
        assert plan.total + plan.shortfall == plan.wanted
    drawn = {d.account_id: d.amount for d in plan.draws}
    for account_id, amount in accounts:
        assert drawn.get(account_id, 0) <= amount
    # an account is drawn only when every earlier one was emptied
    emptied = True
    for account_id, amount in accounts:
        if drawn.get(account_id):
            assert emptied
        emptied = emptied and drawn.get(account_id, 0) == amount
    if plan.shortfall:
        assert all(drawn.get(a, 0) == f for a, f in accounts)


def test_hold_covers_the_largest_output() -> None:
    prices = PriceTable(models={"m": ModelPrice(in_per_1k=1_000, out_per_1k=3_000)})
    assert hold_size(prices, "m", 500, 1_000) == 500 + 3_000
    assert prices.model_call("m", 500, 10) == 530
    assert prices.model_call("m", 1, 0) == 1  # rounded up
    assert hold_size(prices, "other", 0, 0) == 1
    assert hold_size(prices, "m", 500, 1_000, max_compute_ms=2_000) == 3_500 + 100  # 2 s at 50


def test_compute_and_storage_round_up() -> None:
    prices = PriceTable(compute_per_s=50, storage_per_mb_day=100)
    assert prices.compute(1) == 1  # any compute costs something
    assert prices.compute(1_000) == 50
    assert prices.compute(0) == 0
    assert megabyte_days(0, 86_400) == 0
    assert megabyte_days(1, 0) == 0
    assert megabyte_days(1, 1) == 1
    assert megabyte_days(2_000_000, 86_400) == 2
    assert megabyte_days(2_000_001, 86_400) == 3


def test_metrics_from_outcomes() -> None:
    outcomes = [
        PerformanceOutcome(resolved=True, accurate=True, extra={"latency_s": 2.0}),
        PerformanceOutcome(resolved=True, accurate=False, extra={"latency_s": 4.0}),
        PerformanceOutcome(resolved=False),
        PerformanceOutcome(resolved=True, accurate=True),
    ]
    assert performance(outcomes) == {
        "outcomes": 4.0,
        "resolution_rate": 0.75,
        "accuracy": 2 / 3,
        "latency_s": 3.0,
    }
    assert performance([]) == {"outcomes": 0.0}


INVENTORY = [
    Ad(ad_id="ide", keywords=("python", "editor"), revenue_per_impression=100),
    Ad(ad_id="cloud", keywords=("hosting",), revenue_per_impression=500),
    Ad(ad_id="off", keywords=("python", "review"), revenue_per_impression=900, active=False),
]


def test_ads_are_targeted_by_specialization_and_task() -> None:
    choice = choose_ad(INVENTORY, "python code review", "fix the editor", False, OptOutPolicy.NONE)
    assert choice.ad is not None
    assert choice.ad.ad_id == "ide"
    assert choice.targeted
    hosting = choose_ad(INVENTORY, "devops", "move hosting", False, OptOutPolicy.NONE)
    assert hosting.ad is not None
    assert hosting.ad.ad_id == "cloud"


def test_opted_out_users_get_untargeted_ads_or_none() -> None:
    untargeted = choose_ad(INVENTORY, "python", "editor", True, OptOutPolicy.UNTARGETED)
    assert untargeted.ad is not None
    assert untargeted.ad.ad_id == "cloud"  # highest revenue, not the matching one
    assert not untargeted.targeted
    assert choose_ad(INVENTORY, "python", "editor", True, OptOutPolicy.NONE).ad is None
    assert choose_ad([], "python", "x", False, OptOutPolicy.NONE).ad is None
    assert revenue_share(999, 30) == 299


def _chain(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        at = datetime(2025, 1, 1, 0, 0, seq, tzinfo=UTC)
        data = {"n": seq}
        digest = entry_hash(prev, "persona:p", seq, at, "k", "a", "p", None, data)
        entries.append(
            AuditEntry(stream="persona:p", seq=seq, at=at, kind="k", actor="a", persona_id="p",
                       entity_id=None, data=data, prev_hash=prev, hash=digest)
        )  # fmt: skip
        prev = digest
    return entries


def test_audit_chain_detects_tampering() -> None:
    entries = _chain(5)
    assert verify_chain(entries) == (True, "5 entries, chain intact")
    edited = list(entries)
    edited[2] = edited[2].model_copy(update={"data": {"n": 99}})
    assert verify_chain(edited) == (False, "entry 3: content does not match its hash")
    assert verify_chain(entries[:2] + entries[3:])[1] == "entry 3 is missing (found 4)"
    relinked = list(entries)
    relinked[1] = relinked[1].model_copy(update={"prev_hash": "f" * 64})
    assert verify_chain(relinked)[1] == "entry 2: link to the previous entry is broken"
