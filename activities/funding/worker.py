"""What a worker registers for funding: ``funding_activities(store, client)``."""

from __future__ import annotations

from collections.abc import Callable

from temporalio.client import Client

from activities.funding.activities import FaultHook, FundingActivities, KeySink, _discard, _no_fault
from activities.funding.db import Database
from activities.funding.service import Funding
from activities.store import Store
from personas.funding.ads import OptOutPolicy
from personas.funding.pricing import PriceTable


def funding_activities(
    store: Store,
    client: Client,
    *,
    prices: PriceTable | None = None,
    key_sink: KeySink = _discard,
    faults: FaultHook = _no_fault,
    ad_share_percent: int = 30,
    opt_out_policy: OptOutPolicy = OptOutPolicy.UNTARGETED,
) -> list[Callable[..., object]]:
    """Every funding activity on ``store``'s database (call ``store.migrate()`` first).

    ``prices`` is the price table (defaults when None); ``key_sink`` receives the secrets of
    keys rotated by the schedule (shown once, never stored); ``faults`` is for tests.
    """
    funding = Funding(Database(store.engine), prices)
    return FundingActivities(
        funding,
        client,
        store,
        key_sink=key_sink,
        faults=faults,
        ad_share_percent=ad_share_percent,
        opt_out_policy=opt_out_policy,
    ).all()
