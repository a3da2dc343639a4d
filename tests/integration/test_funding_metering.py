"""The reserve / settle / release activities: metered, idempotent under retry, no overspend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

from activities.funding.activities import FundingActivities
from activities.funding.contracts import (
    AuditRequest,
    ImpressionRequest,
    ReleaseRequest,
    ReserveRequest,
    SettleRequest,
    StorageRequest,
)
from activities.funding.db import Database
from activities.funding.ledger import persona_balance, persona_held, persona_spend
from activities.funding.service import Funding
from activities.store import Store
from personas.funding.ads import Ad
from personas.funding.pricing import ModelPrice, PriceTable

PRICES = PriceTable(models={"m": ModelPrice(in_per_1k=1_000, out_per_1k=2_000)})


class OnceFaults:
    """Fail each (step, key) once when the step is listed."""

    def __init__(self, steps: set[str]) -> None:
        self.steps = steps
        self.seen: set[tuple[str, str]] = set()

    def __call__(self, step: str, key: str) -> None:
        if step in self.steps and (step, key) not in self.seen:
            self.seen.add((step, key))
            raise RuntimeError(f"injected at {step}")


@pytest.fixture
def acts(store: Store) -> Iterator[FundingActivities]:
    """Funding activities with a persona holding 10,000 micro-units."""
    db = Database(store.url)
    funding = Funding(db, PRICES)
    funding.setup_persona("e1", "p1")
    funding.deposit("seed", persona_balance("p1"), 10_000)
    client: Any = None  # these activities never touch Temporal
    yield FundingActivities(funding, client, store, faults=OnceFaults({"settle.after"}))
    db.dispose()


def _settle(hold_id: str, tokens_out: int) -> SettleRequest:
    return SettleRequest(
        hold_id=hold_id, persona_id="p1", entity_id="e1", activity="think", model="m",
        tokens_in=1_000, tokens_out=tokens_out,
    )  # fmt: skip


def test_reserve_then_settle_meters_once_even_when_the_return_is_lost(
    acts: FundingActivities,
) -> None:
    req = ReserveRequest(hold_id="call-1", persona_id="p1", model="m", tokens_in=1_000,
                         max_tokens_out=2_000)  # fmt: skip
    hold = acts.reserve(req)
    assert hold.amount == 1_000 + 4_000
    assert acts.reserve(req) == hold  # a retried reserve holds nothing more
    with pytest.raises(RuntimeError, match=r"settle\.after"):
        acts.settle(_settle("call-1", 500))  # posted, then the worker "died"
    settled = acts.settle(_settle("call-1", 500))  # the retry
    assert settled.status == "settled"
    assert settled.charged == 2_000
    ledger = acts.funding.ledger
    assert ledger.balance(persona_spend("p1")) == 2_000
    assert ledger.balance(persona_balance("p1")) == 8_000
    assert ledger.count_postings("settled:call-1") == 1
    usage = acts.funding.meter.usage(persona_id="p1")
    assert [(u.event_key, u.price) for u in usage] == [("call-1", 2_000)]
    assert usage[0].tx_id == ledger.posting("settled:call-1").tx_id  # type: ignore[union-attr]


def test_a_period_of_stored_outputs_is_charged_once(acts: FundingActivities) -> None:
    store = acts.store
    for i in range(3):  # 600,000 characters of output
        ref = store.put_content("output", "x" * 200_000)
        store.record_outcome("p1", f"i{i}", "respond", ref, 10, 10)
    acts.faults = OnceFaults({"storage.after"})
    req = StorageRequest(key="cycle-1:storage", persona_id="p1", seconds=2 * 86_400)
    with pytest.raises(RuntimeError, match=r"storage\.after"):
        acts.storage(req)  # charged, then the worker "died"
    assert acts.storage(req) == 2  # 1.2 MB-days, rounded up
    usage = acts.funding.meter.usage(persona_id="p1")
    assert [(u.kind, u.quantity, u.price) for u in usage] == [("storage", 2, 200)]
    assert acts.funding.ledger.balance(persona_spend("p1")) == 200
    assert acts.storage(req.model_copy(update={"key": "idle", "seconds": 0})) == 0


def test_failed_work_releases_and_short_balance_refuses(acts: FundingActivities) -> None:
    req = ReserveRequest(hold_id="call-2", persona_id="p1", model="m", tokens_in=1_000,
                         max_tokens_out=4_000)  # fmt: skip
    acts.reserve(req)
    with pytest.raises(ApplicationError, match="insufficient funds") as refused:
        acts.reserve(req.model_copy(update={"hold_id": "call-3"}))
    assert refused.value.non_retryable
    assert acts.release(ReleaseRequest(hold_id="call-2")).status == "released"
    assert acts.funding.ledger.balance(persona_balance("p1")) == 10_000
    assert acts.funding.ledger.count_postings("hold:call-3") == 0


def test_holds_of_a_dead_worker_expire_and_are_released(acts: FundingActivities) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    acts.funding.ledger.hold("dead", "p1", 3_000, timedelta(minutes=5), past)
    assert acts.funding.ledger.balance(persona_held("p1")) == 3_000
    assert acts.release_expired(ReleaseRequest(persona_id="p2")) == 0
    assert acts.release_expired(ReleaseRequest(persona_id="p1")) == 1
    assert acts.funding.ledger.balance(persona_balance("p1")) == 10_000
    assert acts.funding.ledger.total() == 0


def test_audit_and_ad_impression_activities(acts: FundingActivities) -> None:
    assert acts.audit(AuditRequest(kind="persona.work", actor="p1", persona_id="p1")) == 2
    acts.ads.add_ad(Ad(ad_id="ide", keywords=("python",), revenue_per_impression=1_000))
    req = ImpressionRequest(key="imp-1", persona_id="p1", user_id="u1",
                            specialization="python review", task="PR 7")  # fmt: skip
    shown = acts.ad_impression(req)
    assert (shown.ad_id, shown.targeted, shown.credited) == ("ide", True, 300)
    assert acts.ad_impression(req) == shown  # a retry credits nothing more
    assert acts.funding.ledger.balance(persona_balance("p1")) == 10_300
    assert acts.audit_log.verify()[0]
