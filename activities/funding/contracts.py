"""Inputs and outputs of the funding activities; workflows import only this module."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from personas.bounds import LABEL_CHARS, Identifier
from personas.funding.rules import RuleSet
from personas.funding.topup import TopUpPolicy

FUNDING_SETUP = "funding_setup"
FUNDING_METRICS = "funding_metrics"
FUNDING_RULES = "funding_rules"
FUNDING_TOP_UP = "funding_top_up"
FUNDING_LIFE = "funding_life"
FUNDING_ROTATE_KEY = "funding_rotate_key"
FUNDING_RELEASE_EXPIRED = "funding_release_expired"
FUNDING_RESERVE = "funding_reserve"
FUNDING_SETTLE = "funding_settle"
FUNDING_RELEASE = "funding_release"
FUNDING_AUDIT = "funding_audit"
FUNDING_AD_IMPRESSION = "funding_ad_impression"
FUNDING_STORAGE = "funding_storage"


class SetupRequest(BaseModel):
    """Open a persona's accounts."""

    entity_id: str
    persona_id: str


class MetricsRequest(BaseModel):
    """Metrics of the outcomes recorded in ``[since_ms, until_ms)`` (epoch milliseconds)."""

    persona_id: str
    since_ms: int
    until_ms: int


class RulesResult(BaseModel):
    """The rules document in force."""

    rules: RuleSet


class TopUpRequest(BaseModel):
    """Top up once per ``key`` under ``policy`` within ``funding_limit`` (micro-units)."""

    key: str
    persona_id: str
    policy: TopUpPolicy
    funding_limit: int = Field(ge=0)


class TopUpOutcome(BaseModel):
    """What a top-up did."""

    model_config = ConfigDict(frozen=True)

    drawn: int
    shortfall: int
    balance: int
    tx_id: str | None


class LifeControl(BaseModel):
    """Fire a trigger on a persona's life and/or set its compute budget."""

    persona_id: str
    event: str | None = None
    compute_budget: float | None = Field(default=None, ge=0, le=1)
    metered: bool | None = None


class LifeControlResult(BaseModel):
    """The life's answer, or why it could not be reached."""

    status: str


class RotateKeyRequest(BaseModel):
    """Rotate a persona's API key with an overlap window."""

    persona_id: Identifier
    overlap_s: float = Field(gt=0, le=366 * 86_400, allow_inf_nan=False)
    rotation_id: str | None = Field(
        default=None, max_length=LABEL_CHARS, description="idempotency key of the rotation"
    )


class RotateKeyResult(BaseModel):
    """The new key's id (the secret went to the key sink, never to the history)."""

    key_id: str


class ReserveRequest(BaseModel):
    """Hold the price of a model call at its largest output before the call."""

    hold_id: str = Field(min_length=1, max_length=255)
    persona_id: str
    model: str
    tokens_in: int = Field(ge=0)
    max_tokens_out: int = Field(ge=0)
    max_compute_ms: int = Field(default=0, ge=0, description="the work's longest compute")
    max_tool_bytes: int = Field(default=0, ge=0, description="the most bytes its tools move")
    ttl_s: float = Field(default=600, gt=0)


class HoldResult(BaseModel):
    """A hold's state after the operation."""

    hold_id: str
    amount: int
    charged: int
    status: str


class SettleRequest(BaseModel):
    """Settle a hold at the metered price of what the work used."""

    hold_id: str
    persona_id: str
    entity_id: str
    activity: str
    model: str
    tokens_in: int = Field(ge=0)
    tokens_out: int = Field(ge=0)
    compute_ms: int = Field(default=0, ge=0)


class StorageRequest(BaseModel):
    """Charge the storage a persona's outputs took over one funding period, once per key."""

    key: str = Field(min_length=1, max_length=255)
    persona_id: str
    seconds: float = Field(ge=0)


class ReleaseRequest(BaseModel):
    """Release a hold (the work failed), or every expired hold of a persona."""

    hold_id: str | None = None
    persona_id: str | None = None


class AuditRequest(BaseModel):
    """Append an audit entry (a persona's activity, say) to the persona's chain."""

    kind: str = Field(min_length=1, max_length=64)
    actor: str = Field(min_length=1, max_length=255)
    persona_id: str | None = None
    entity_id: str | None = None
    data: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="appends once per key; by default the calling activity's identity",
    )


class ImpressionRequest(BaseModel):
    """Show one ad to a persona's user, once per key."""

    key: str = Field(min_length=1, max_length=255)
    persona_id: str
    user_id: str
    specialization: str
    task: str = ""
    content_ref: str | None = Field(default=None, description="the task's text, in the store")


class ImpressionResult(BaseModel):
    """The ad shown (or none) and what the persona was credited."""

    ad_id: str | None
    targeted: bool
    credited: int
