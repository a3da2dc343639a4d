"""The persona marketplace's domain: signed listings with evidence, reviews, vetting rules."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from personas.fleet.simulator import Scenario


class Evidence(BaseModel):
    """What a publisher claims: the backtest objective in a scenario and A/B results."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scenario: Scenario = Field(default_factory=Scenario)
    backtest_objective: float
    baseline_objective: float
    ab_results: list[dict[str, Any]] = Field(default_factory=list, max_length=20)


class Listing(BaseModel):
    """A published persona of any kind (the signed part)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    version: int = Field(ge=1)
    kind: str = Field(pattern=r"^(fleet|ai|instance|app)$")
    publisher: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=2000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    persona: dict[str, Any]
    evidence: Evidence


class SignedListing(BaseModel):
    """A listing and its publisher's Ed25519 signature (hex) over :func:`canonical`."""

    listing: Listing
    signature: str = Field(pattern=r"^[0-9a-f]{128}$")


class Review(BaseModel):
    """A rating (1-5) and review, with the reviewer's evidence."""

    author: str = Field(min_length=1, max_length=80)
    rating: int = Field(ge=1, le=5)
    text: str = Field(default="", max_length=2000)
    evidence: str = Field(default="", max_length=2000)


class Verdict(BaseModel):
    """Whether a listing may be deployed, and why not."""

    accepted: bool
    reasons: list[str]
    objective: float | None = None
    baseline: float | None = None


def canonical(listing: Listing) -> bytes:
    """The exact bytes that are signed: sorted-key compact JSON of the listing."""
    return json.dumps(
        listing.model_dump(mode="json"), sort_keys=True, separators=(",", ":")
    ).encode()


def judge(
    objective: float,
    baseline: float,
    claimed: float,
    max_regression: float = 0.02,
    max_claim_gap: float = 0.10,
) -> list[str]:
    """Reasons to refuse a persona whose simulated objective regresses or whose claim is false."""
    reasons = []
    if objective < baseline - max_regression * abs(baseline):
        reasons.append(
            f"regression: objective {objective:.3f} below the default's {baseline:.3f} "
            f"by more than {max_regression:.0%}"
        )
    if abs(objective - claimed) > max_claim_gap * max(abs(claimed), 1e-6):
        reasons.append(
            f"evidence does not reproduce: claimed {claimed:.3f}, simulated {objective:.3f}"
        )
    return reasons
