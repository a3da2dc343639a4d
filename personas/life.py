"""The persona life: its configuration, the state it carries across runs, and its views."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from personas.cadence import CadenceConfig, EngagementThresholds
from personas.coordination import Bid
from personas.inbox import DEFAULT_CAPACITY, Inbox
from personas.items import IDENTIFIER, Dependency, InboxItem
from personas.models import AIPersonaProfile
from personas.priority import PriorityWeights
from personas.state import Mood, PersonaState, StateRules


class LifeConfig(BaseModel):
    """Every knob of a persona's life, with the design's defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    inbox_capacity: int = Field(default=DEFAULT_CAPACITY, ge=1, le=100_000)
    priority: PriorityWeights = PriorityWeights()
    cadence: CadenceConfig = CadenceConfig()
    engagement: EngagementThresholds = EngagementThresholds()
    state_rules: StateRules = StateRules()
    territory_scan_s: float = Field(default=7_200.0, gt=0)
    max_history_events: int = Field(default=10_000, ge=100, le=50_000)
    remembered_ids: int = Field(default=2_000, ge=10)
    remembered_updates: int = Field(
        default=256, ge=1, le=10_000, description="update ids remembered with their outcomes"
    )
    max_tokens_in: int = Field(default=8_192, ge=1, description="ceiling of a metered call")
    max_tokens_out: int = Field(default=1_024, ge=1, description="ceiling of a metered call")

    @model_validator(mode="after")
    def _can_be_overwhelmed(self) -> LifeConfig:
        if self.state_rules.overwhelmed_at_inbox > self.inbox_capacity:
            raise ValueError(
                f"state_rules.overwhelmed_at_inbox ({self.state_rules.overwhelmed_at_inbox}) "
                f"exceeds inbox_capacity ({self.inbox_capacity}): the persona could never be "
                "overwhelmed"
            )
        return self


class LifeStats(BaseModel):
    """Counters a user reads to see what the persona did."""

    delivered: int = 0
    processed: int = 0
    passed: int = 0
    shed: int = 0
    rejected: int = 0
    duplicates: int = 0
    cadence_waits: int = 0
    territory_scans: int = 0
    bids: int = 0
    floors_taken: int = 0
    failed: int = 0
    unfunded: int = 0
    ads_shown: int = 0
    ad_credit: int = 0
    runs: int = 1
    last_rejection: str | None = None


class Subscription(BaseModel):
    """Persona ``subscriber_id`` waits for this persona to finish ``task_key``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_key: str = Field(pattern=IDENTIFIER)
    subscriber_id: str = Field(pattern=IDENTIFIER)


class DependencyDone(BaseModel):
    """Notice that persona ``provider_id`` finished ``task_key``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_key: str = Field(pattern=IDENTIFIER)
    provider_id: str = Field(pattern=IDENTIFIER)
    output_ref: str | None = None


class FloorGrant(BaseModel):
    """The room coordinator lets this persona respond with the thought it bid."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    room_id: str
    message_id: str
    thought_ref: str | None = None


class OutgoingSignal(BaseModel):
    """A signal this persona owes another persona or a room, kept until it has been sent."""

    target: Literal["persona", "room"]
    target_id: str
    signal: str
    payload: Subscription | DependencyDone | Bid


class ShedNotice(BaseModel):
    """An item shed from the inbox, waiting to be written to the overflow record."""

    item: InboxItem
    reason: str
    priority_bp: int


class LifeSnapshot(BaseModel):
    """A persona's live state: its workflow changes it in place and carries it, whole, into
    its next run (continue-as-new)."""

    inbox: Inbox
    state: PersonaState
    stats: LifeStats = LifeStats()
    paused: bool = False
    metered: bool = False
    satisfied: list[Dependency] = Field(default_factory=list)
    completed: list[str] = Field(default_factory=list)
    subscribers: dict[str, list[str]] = Field(default_factory=dict)
    grants: list[FloorGrant] = Field(default_factory=list)
    outbox: list[OutgoingSignal] = Field(default_factory=list)
    pending_shed: list[ShedNotice] = Field(default_factory=list)
    recent_ids: list[str] = Field(default_factory=list)
    updates: dict[str, Any] = Field(
        default_factory=dict, description="outcomes of the latest updates, by update id"
    )


class PersonaLifeInput(BaseModel):
    """How a persona life workflow starts: the profile, its config, and any carried state."""

    profile: AIPersonaProfile
    config: LifeConfig = LifeConfig()
    snapshot: LifeSnapshot | None = None
    stats: LifeStats | None = Field(
        default=None, description="lifetime counters of the life that ended before this one"
    )


class InboxView(BaseModel):
    """One inbox entry as a user sees it."""

    item_id: str
    kind: str
    sender_id: str
    room_id: str | None
    priority: float
    waited_s: float


class PersonaView(BaseModel):
    """The persona's condition as a user sees it."""

    persona_id: str
    name: str
    mood: Mood
    energy: float
    attention: float
    compute_budget: float
    paused: bool
    metered: bool
    inbox_size: int
    held: int
    stats: LifeStats


class DeliveryReceipt(BaseModel):
    """What the persona did with a delivered item."""

    item_id: str
    accepted: bool
    priority: float
    held: bool = False
    shed_item_id: str | None = None
    reason: str | None = None
