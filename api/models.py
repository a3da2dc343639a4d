"""Request bodies for the client methods that take keyword arguments rather than a model.

Everything else the API takes or returns is the clients' own model (AIPersonaProfile,
PersonaView, Grant, NegotiationInput, Answer, SessionView, FleetContext, ...).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from personas.app.views import SessionView, UsageSample
from personas.coordination import FloorPolicy
from personas.fleet.simulator import Scenario
from personas.parts import ContentPart

Name = Field(min_length=1, max_length=255)
Text = Field(default="", max_length=20_000)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntityIn(_Body):
    """An entity and the resources it may grant to its personas."""

    entity_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
    name: str = Name
    resources: list[str] = Field(default=[], max_length=256)


class EntityOut(BaseModel):
    """An entity's id and its grantable resources."""

    entity_id: str
    resources: list[str]


class ResourceIn(_Body):
    """A typed resource of an entity."""

    name: str = Field(min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=16)
    location: str = Field(min_length=1, max_length=1024)
    levels: list[str] = Field(default=["read"], max_length=4)
    description: str = Field(default="", max_length=2000)


class MessageIn(_Body):
    """A message to a persona or a room: text, then parts."""

    text: str = Text
    sender_id: str | None = Field(default=None, max_length=255)
    human: bool = True
    priority: float = Field(default=0.0, ge=0.0, le=1.0)
    kind: str = Field(default="chat", max_length=32)
    task_key: str | None = Field(default=None, max_length=255)
    waits_for: list[dict[str, str]] = Field(default=[], max_length=16)
    parts: list[ContentPart] = Field(default=[], max_length=16)


class RoomIn(_Body):
    """A room of member personas."""

    room_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
    members: list[str] = Field(min_length=1, max_length=64)
    policy: FloorPolicy | None = None


class Started(BaseModel):
    """A workflow that was started (or already ran)."""

    workflow_id: str


class AmountIn(_Body):
    """An amount of money as a decimal string."""

    amount: str = Field(min_length=1, max_length=40)


class TopUpIn(AmountIn):
    """An administrator's top-up from an account."""

    from_account: str = Field(min_length=1, max_length=255)


class AllocationIn(_Body):
    """A funding cycle's allocation per period."""

    allocation: str = Field(min_length=1, max_length=40)


class Balance(BaseModel):
    """A persona's spendable balance in micro-units."""

    persona_id: str
    balance_micros: int


class AuditVerdict(BaseModel):
    """Whether the audit chain verifies, and why not."""

    ok: bool
    detail: str


class RulesIn(_Body):
    """A rules document and the funding administrator's secret that signs for it."""

    document: dict[str, object]
    admin_secret: str = Field(min_length=1, max_length=256)


class KeyIn(_Body):
    """A new API key's label."""

    label: str = Field(default="", max_length=128)


class RotateIn(_Body):
    """How long the old key stays valid beside the new one."""

    overlap_s: float = Field(default=3600, ge=0, le=30 * 86400)

    @property
    def overlap(self) -> timedelta:
        """The overlap as a duration."""
        return timedelta(seconds=self.overlap_s)


class SessionIn(_Body):
    """requestPersona: a session of an app persona for the token's user."""

    persona_id: str = Name
    token: str = Field(min_length=1, max_length=8192)
    environment: str = Field(default="default", max_length=64)
    priority: int = Field(default=5, ge=0, le=9)
    preempt: bool = False
    lease_s: int = Field(default=3600, ge=1, le=7 * 86400)
    queue_timeout_s: int = Field(default=600, ge=1, le=86400)


class TokenIn(_Body):
    """The session user's token."""

    token: str = Field(min_length=1, max_length=8192)


class RunIn(TokenIn):
    """A command to run in a session."""

    argv: list[str] = Field(min_length=1, max_length=64)


class PersonaChanges(_Body):
    """Profile fields to change in a persona's new version (id, entity and name are fixed)."""

    changes: dict[str, JsonValue] = Field(min_length=1, max_length=32)


class Revoked(BaseModel):
    """A withdrawn grant: the user's sessions of the persona told to end."""

    ended_sessions: list[str]


class SessionUsage(BaseModel):
    """A session's periodic usage samples (oldest first, the view's bounded window)."""

    session_id: str
    state: str
    usage: list[UsageSample]
    samples_taken: int
    samples_missed: int

    @classmethod
    def of(cls, view: SessionView) -> SessionUsage:
        """The usage part of a session's view."""
        return cls(
            session_id=view.session_id,
            state=view.state,
            usage=view.usage,
            samples_taken=view.samples_taken,
            samples_missed=view.samples_missed,
        )


#: An intent a fleet persona is learned for (``optimise for mobile users``).
Intent = Annotated[str, Field(min_length=1, max_length=120)]


class LearnIn(_Body):
    """Learn a fleet persona in the simulator for a scenario and intents."""

    fleet_id: str = Field(min_length=1, max_length=80)
    scenario: Scenario = Field(default_factory=Scenario)
    intents: list[Intent] = Field(default_factory=list, max_length=10)
    rounds: int = Field(default=150, ge=1, le=1000)
    seed: int = Field(default=0, ge=0, le=2**31)


class FleetIn(LearnIn):
    """Learn a fleet's persona and start adapting the fleet."""

    current: dict[str, JsonValue] = Field(default_factory=dict, max_length=16)
    risk_tolerance: float = Field(default=0.3, ge=0, le=1, allow_inf_nan=False)
    cadence_s: float = Field(default=60.0, gt=0, le=86_400, allow_inf_nan=False)
    shadow: bool = False


class RiskIn(_Body):
    """A fleet's risk tolerance."""

    tolerance: float = Field(ge=0, le=1, allow_inf_nan=False)


class ShadowIn(_Body):
    """Shadow mode: changes are proposed, not applied."""

    shadow: bool


class ABIn(_Body):
    """An A/B test of a fleet's variations (configurations as the fleet's JSON)."""

    ab_id: str = Field(min_length=1, max_length=80)
    variants: dict[
        Annotated[str, Field(max_length=32)],
        Annotated[dict[str, JsonValue], Field(max_length=16)],
    ] = Field(min_length=1, max_length=8)
    scenario: Scenario = Field(default_factory=Scenario)
    explore: int = Field(default=0, ge=0, le=4)
    max_rounds: int = Field(default=10, ge=1, le=100)
    visits_per_round: int = Field(default=2000, ge=10, le=1_000_000)
    seed: int | None = Field(default=None, ge=0, le=2**31)


class MarketDeployIn(_Body):
    """Adopt a marketplace persona (vetted first) for a fleet."""

    name: str = Field(min_length=1, max_length=80)
