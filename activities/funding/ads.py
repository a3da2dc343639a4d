"""Advertising: inventory, opt-outs, impressions with revenue share credited to the persona."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from activities.funding.db import Database
from activities.funding.ledger import WORLD, Ledger, persona_balance, source_account
from activities.funding.tables import AdPreference, AdRow, Impression
from activities.store.db import insert_ignore, utc
from personas.funding.ads import Ad, OptOutPolicy, choose_ad, revenue_share

PLATFORM_ADS = source_account("platform-ads")


class ImpressionRecord(BaseModel):
    """An impression as recorded."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    impression_key: str
    persona_id: str
    user_id: str
    ad_id: str | None
    targeted: bool
    revenue: int
    credited: int
    tx_id: str | None


class AdService:
    """Ad inventory, preferences and impressions; revenue is posted to the ledger."""

    def __init__(
        self,
        db: Database,
        ledger: Ledger,
        share_percent: int = 30,
        opt_out_policy: OptOutPolicy = OptOutPolicy.UNTARGETED,
    ) -> None:
        """``share_percent`` of each impression's revenue is credited to the persona."""
        if not 0 <= share_percent <= 100:
            raise ValueError(f"revenue share {share_percent}% is outside 0..100")
        self.db = db
        self.ledger = ledger
        self.share_percent = share_percent
        self.opt_out_policy = opt_out_policy
        ledger.open_account(PLATFORM_ADS, "ad_pool")

    def add_ad(self, ad: Ad) -> None:
        """Add or replace an ad in the inventory."""
        with self.db.tx() as s:
            s.merge(
                AdRow(
                    ad_id=ad.ad_id,
                    keywords=list(ad.keywords),
                    revenue_per_impression=ad.revenue_per_impression,
                    active=ad.active,
                )
            )

    def inventory(self) -> list[Ad]:
        """Every ad."""
        with self.db.tx() as s:
            return [
                Ad(
                    ad_id=r.ad_id,
                    keywords=tuple(r.keywords),
                    revenue_per_impression=r.revenue_per_impression,
                    active=r.active,
                )
                for r in s.scalars(select(AdRow).order_by(AdRow.ad_id))
            ]

    def set_opt_out(self, user_id: str, opted_out: bool, now: datetime | None = None) -> None:
        """Record a user's choice; it applies from the next impression."""
        with self.db.tx() as s:
            s.merge(AdPreference(user_id=user_id, opted_out=opted_out, updated_at=utc(now)))

    def opted_out(self, user_id: str) -> bool:
        """Whether the user opted out of personalised ads."""
        with self.db.tx() as s:
            row = s.get(AdPreference, user_id)
            return bool(row and row.opted_out)

    def impression(
        self,
        key: str,
        persona_id: str,
        user_id: str,
        specialization: str,
        task: str,
        now: datetime | None = None,
    ) -> ImpressionRecord:
        """Choose and record an ad for the user (once per key) and credit the revenue share."""
        with self.db.tx() as s:
            row = s.get(Impression, key)
            if row is not None:
                return ImpressionRecord.model_validate(row)
        choice = choose_ad(
            self.inventory(), specialization, task, self.opted_out(user_id), self.opt_out_policy
        )
        revenue = choice.ad.revenue_per_impression if choice.ad else 0
        credited = revenue_share(revenue, self.share_percent)
        tx_id = None
        if revenue:
            legs = [(WORLD, -revenue), (persona_balance(persona_id), credited)]
            legs.append((PLATFORM_ADS, revenue - credited))
            tx_id = self.ledger.post(
                f"ad:{key}", legs, kind="ad_revenue", persona_id=persona_id, actor="ads"
            ).tx_id
        values = {
            "impression_key": key,
            "persona_id": persona_id,
            "user_id": user_id,
            "ad_id": choice.ad.ad_id if choice.ad else None,
            "targeted": choice.targeted,
            "revenue": revenue,
            "credited": credited,
            "tx_id": tx_id,
            "at": utc(now),
        }
        with self.db.tx() as s:
            insert_ignore(s, Impression, values)
            stored = s.get(Impression, key)
            return ImpressionRecord.model_validate(stored)
