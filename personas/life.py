"""The persona life: its configuration, the state it carries across runs, and its views."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from personas.agent.turn import MAX_STEPS
from personas.bounds import LABEL_CHARS, Identifier, Label, Ref
from personas.cadence import CadenceConfig, EngagementThresholds
from personas.coordination import BidBatch
from personas.hosts import HostClaim
from personas.inbox import DEFAULT_CAPACITY, MAX_CAPACITY, Inbox
from personas.items import Dependency, InboxItem
from personas.messages import BIDS_MAX
from personas.models import AIPersonaProfile
from personas.priority import PriorityWeights
from personas.state import Mood, PersonaState, StateRules

MAX_REMEMBERED = 2_000
"""The most item ids (for duplicates) and completed tasks a persona remembers
(``LifeConfig.remembered_ids``); older ones are forgotten first."""
MAX_REMEMBERED_UPDATES = 10_000
"""The most update ids a persona remembers with their outcomes (``remembered_updates``)."""
MAX_SATISFIED = 1_000
"""The most satisfied dependencies a persona remembers; the oldest are forgotten first."""
MAX_SUBSCRIPTIONS = 1_000
"""The most (task, subscriber) pairs a persona keeps waiting for its tasks; past it the
subscription is refused and counted (``stats.rejected``)."""
MAX_GRANTS = 100
"""The most floor grants waiting to be taken; past it a grant is refused and counted."""
MAX_OUTBOX = 10_000
"""The most signals owed to others before they are sent (each item owes at most a few)."""


class LifeConfig(BaseModel):
    """Every knob of a persona's life, with the design's defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    inbox_capacity: int = Field(default=DEFAULT_CAPACITY, ge=1, le=MAX_CAPACITY)
    priority: PriorityWeights = PriorityWeights()
    cadence: CadenceConfig = CadenceConfig()
    engagement: EngagementThresholds = EngagementThresholds()
    state_rules: StateRules = StateRules()
    territory_scan_s: float = Field(default=7_200.0, gt=0, le=30 * 86_400)
    max_history_events: int = Field(default=10_000, ge=100, le=50_000)
    remembered_ids: int = Field(default=2_000, ge=10, le=MAX_REMEMBERED)
    remembered_updates: int = Field(
        default=256,
        ge=1,
        le=MAX_REMEMBERED_UPDATES,
        description="update ids remembered with their outcomes",
    )
    max_tokens_in: int = Field(
        default=8_192, ge=1, le=10_000_000, description="ceiling of a metered call"
    )
    max_tokens_out: int = Field(
        default=1_024, ge=1, le=10_000_000, description="ceiling of a metered call"
    )
    agent_max_steps: int = Field(
        default=0,
        ge=0,
        le=MAX_STEPS,
        description="steps (model calls and tool calls) of an item's agent turn; 0: one model "
        "call without tools, as before agents",
    )

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
    last_rejection: Label | None = None


class Subscription(BaseModel):
    """Persona ``subscriber_id`` waits for this persona to finish ``task_key``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_key: Identifier
    subscriber_id: Identifier


class DependencyDone(BaseModel):
    """Notice that persona ``provider_id`` finished ``task_key``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_key: Identifier
    provider_id: Identifier
    output_ref: Ref | None = None


class FloorGrant(BaseModel):
    """The room coordinator lets this persona respond with the thought it bid."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    room_id: Identifier
    message_id: Identifier
    thought_ref: Ref | None = None


class OutgoingSignal(BaseModel):
    """A signal this persona owes another persona or a room, kept until it has been sent."""

    target: Literal["persona", "room"]
    target_id: Identifier
    signal: Identifier
    payload: Subscription | DependencyDone | BidBatch


def coalesced(owed: list[OutgoingSignal]) -> list[OutgoingSignal]:
    """The signals ``owed``, with the bids owed each room merged into as few
    :data:`personas.messages.BIDS` signals as their bound allows (in order); every other
    signal is kept as it is.

    A member takes a burst of room chatter item by item and owes the room a bid or a pass for
    each: merged, the burst costs the member and the room one signal, not one per post.
    """
    merged: list[OutgoingSignal] = []
    open_batch: dict[str, int] = {}  # room id -> index in merged of its batch being filled
    for signal in owed:
        if signal.target != "room" or not isinstance(signal.payload, BidBatch):
            merged.append(signal)
            continue
        at = open_batch.get(signal.target_id)
        if at is not None:
            batch = merged[at].payload
            assert isinstance(batch, BidBatch)
            if len(batch.bids) + len(signal.payload.bids) <= BIDS_MAX:
                bids = [*batch.bids, *signal.payload.bids]
                merged[at] = signal.model_copy(update={"payload": BidBatch(bids=bids)})
                continue
        open_batch[signal.target_id] = len(merged)
        merged.append(signal)
    return merged


class ShedNotice(BaseModel):
    """An item shed from the inbox, waiting to be written to the overflow record."""

    item: InboxItem
    reason: str = Field(max_length=LABEL_CHARS)
    priority_bp: int


class LifeSnapshot(BaseModel):
    """A persona's live state: its workflow changes it in place and carries it, whole, into
    its next run (continue-as-new)."""

    inbox: Inbox
    state: PersonaState
    stats: LifeStats = LifeStats()
    paused: bool = False
    metered: bool = False
    satisfied: list[Dependency] = Field(default_factory=list, max_length=MAX_SATISFIED)
    completed: list[Identifier] = Field(default_factory=list, max_length=MAX_REMEMBERED)
    subscribers: dict[Identifier, list[Identifier]] = Field(
        default_factory=dict, max_length=MAX_SUBSCRIPTIONS
    )
    grants: list[FloorGrant] = Field(default_factory=list, max_length=MAX_GRANTS)
    outbox: list[OutgoingSignal] = Field(default_factory=list, max_length=MAX_OUTBOX)
    pending_shed: list[ShedNotice] = Field(default_factory=list)
    recent_ids: list[Identifier] = Field(default_factory=list, max_length=MAX_REMEMBERED)
    updates: dict[str, Any] = Field(
        default_factory=dict,
        max_length=MAX_REMEMBERED_UPDATES,
        description="outcomes of the latest updates, by update id",
    )
    agent_host: HostClaim | None = Field(
        default=None, description="the host of the persona's warm agent sandbox, if it has one"
    )

    def satisfy(self, dependency: Dependency, satisfied: set[Dependency], keep: int) -> None:
        """Remember a satisfied dependency (``satisfied`` is the set view of the list),
        forgetting the oldest past ``keep`` (at most :data:`MAX_SATISFIED`): an item that
        arrives later waiting for a forgotten one subscribes again and is told at once."""
        if dependency in satisfied:
            return
        satisfied.add(dependency)
        self.satisfied.append(dependency)
        while len(self.satisfied) > min(keep, MAX_SATISFIED):
            satisfied.discard(self.satisfied.pop(0))

    def subscribe(self, subscription: Subscription) -> bool:
        """Keep a subscriber waiting for a task; False (refused) past
        :data:`MAX_SUBSCRIPTIONS` pairs."""
        waiting = self.subscribers.get(subscription.task_key, [])
        if subscription.subscriber_id in waiting:
            return True
        if sum(len(v) for v in self.subscribers.values()) >= MAX_SUBSCRIPTIONS:
            return False
        self.subscribers.setdefault(subscription.task_key, []).append(subscription.subscriber_id)
        return True

    def grant(self, grant: FloorGrant) -> bool:
        """Keep a floor grant to take; False (refused) past :data:`MAX_GRANTS` waiting."""
        if len(self.grants) >= MAX_GRANTS:
            return False
        self.grants.append(grant)
        return True


SHED_BATCH_BYTES = 256_000
"""The most shed items (encoded) one overflow-record activity carries."""


def shed_batch(pending: list[ShedNotice], limit: int = SHED_BATCH_BYTES) -> list[ShedNotice]:
    """The longest prefix of ``pending`` (at least one notice) within ``limit`` bytes."""
    total = 0
    for n, notice in enumerate(pending):
        total += len(notice.item.model_dump_json()) + len(notice.reason) + 32
        if total > limit and n > 0:
            return pending[:n]
    return list(pending)


class PersonaLifeInput(BaseModel):
    """How a persona life workflow starts: the profile, its config, and any carried state."""

    profile: AIPersonaProfile
    config: LifeConfig = LifeConfig()
    snapshot: LifeSnapshot | None = None
    stats: LifeStats | None = Field(
        default=None, description="lifetime counters of the life that ended before this one"
    )


class InboxView(BaseModel):  # every field comes from a bounded item
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
    reason: Label | None = None
