"""Choosing an ad for a persona: targeted by specialization and task, or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from personas.models import keywords


class OptOutPolicy(StrEnum):
    """What a user who opted out of personalised ads gets."""

    UNTARGETED = "untargeted"
    NONE = "none"


class Ad(BaseModel):
    """An ad in the inventory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ad_id: str
    keywords: tuple[str, ...] = ()
    revenue_per_impression: int = Field(ge=0)
    active: bool = True


class AdChoice(BaseModel):
    """The ad to show (or none) and whether it was targeted."""

    model_config = ConfigDict(frozen=True)

    ad: Ad | None
    targeted: bool


def choose_ad(
    inventory: Sequence[Ad],
    specialization: str,
    task: str,
    opted_out: bool,
    policy: OptOutPolicy,
) -> AdChoice:
    """The best ad for the persona's specialization and current task.

    Targeted: most keywords in common, then highest revenue, then ad id. An opted-out user
    gets an untargeted ad (highest revenue, then id) or none, by ``policy``.
    """
    active = [a for a in inventory if a.active]
    if not active:
        return AdChoice(ad=None, targeted=False)
    if opted_out:
        if policy is OptOutPolicy.NONE:
            return AdChoice(ad=None, targeted=False)
        best = min(active, key=lambda a: (-a.revenue_per_impression, a.ad_id))
        return AdChoice(ad=best, targeted=False)
    context = set(keywords(specialization)) | set(keywords(task))

    def rank(a: Ad) -> tuple[int, int, str]:
        overlap = len(context & {k.lower() for k in a.keywords})
        return (-overlap, -a.revenue_per_impression, a.ad_id)

    best = min(active, key=rank)
    return AdChoice(ad=best, targeted=rank(best)[0] < 0)


def revenue_share(revenue: int, share_percent: int) -> int:
    """The persona's share of ``revenue`` (micro-units, rounded down)."""
    return revenue * share_percent // 100
